"""A realistic mix of scenes drawn from a harvested catalog (for the scale benches).

What researchers save: a common word from the catalog's titles, often narrowed by a
region, a publisher or an open type; some alternatives (``a | b``), exclusions,
phrases, recent-dates and size ranges. Values are sampled from real datasets, so
filters hit what the catalog holds in its own proportions.
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from config.extensions import db
from search.models import Dataset
from search.text import tokens


def catalog_values(sample: int = 4000, seed: int = 7) -> dict[str, list[str]]:
    """Common words, regions, publishers and formats of a random sample of datasets."""
    with db.session() as session:
        rows = session.execute(
            select(Dataset.title, Dataset.region, Dataset.publisher, Dataset.formats)
            .where(Dataset.deleted_at.is_(None)).order_by(func.random()).limit(sample)
        ).all()
    rng = random.Random(seed)
    words: Counter[str] = Counter()
    for title, *_ in rows:
        words.update(t for t in set(tokens(title)) if len(t) == 2 and not t.isascii())
    common = [w for w, _ in words.most_common(400)][20:]  # the top 20 (数据, 信息 …) say nothing
    rng.shuffle(common)
    return {
        "words": common,
        "regions": [r for _, r, _, _ in rows if r],
        "publishers": [p for _, _, p, _ in rows if p],
        "formats": [f for *_, formats in rows for f in (formats or [])],
    }


def scene_lines(count: int, values: dict[str, list[str]], *, webhook: str | None = None,
                seed: int = 11) -> list[dict[str, Any]]:
    """``count`` scenes as ``scenes import`` lines (on-change schedule)."""
    rng = random.Random(seed)
    words = values["words"]
    lines = []
    for n in range(count):
        # Zipf-like: some words are saved by many people.
        word = words[min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)] if rng.random() < 0.5 \
            else rng.choice(words)
        text = word
        roll = rng.random()
        if roll < 0.12:
            text = f"{word} | {rng.choice(words)}"
        elif roll < 0.2:
            text = f"{word} -{rng.choice(words)}"
        elif roll < 0.26:
            text = f"{word} {rng.choice(words)}"
        query: dict[str, Any] = {"text": text}
        filters: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.3:
            filters["region"] = [rng.choice(values["regions"])]
        elif roll < 0.5:
            filters["publisher"] = [rng.choice(values["publishers"])]
        elif roll < 0.62:
            filters["open_type"] = [rng.choice(["unconditional", "conditional"])]
        elif roll < 0.67 and values["formats"]:
            filters["formats"] = [rng.choice(values["formats"])]
        if filters:
            query["filters"] = filters
        roll = rng.random()
        if roll < 0.08:
            query["ranges"] = {"modified": {"gte": f"now-{rng.choice([30, 90, 365])}d"}}
        elif roll < 0.12:
            query["ranges"] = {"record_count": {"gte": rng.choice([100, 1000])}}
        if rng.random() < 0.03:
            query = {"filters": {"region": [rng.choice(values["regions"])]}}  # a whole region
        line: dict[str, Any] = {"name": f"scene {n}", "query": query, "schedule": "on-change"}
        if webhook:
            line["webhook"] = webhook
        lines.append(line)
    return lines
