"""Builds the parity fixture catalog and the expected answers of the golden queries.

    .venv/bin/python -m tests.parity.make_golden fixture   # rebuild the catalog (needs ../shared/data)
    .venv/bin/python -m tests.parity.make_golden golden    # fill in / refresh expected answers
    .venv/bin/python -m tests.parity.make_golden check     # only report answers that would change

``fixture`` harvests real catalogs from ``../shared/data`` (only those whose licence
allows copying, see its README) through the real harvester into a throwaway store,
then keeps a fixed sample of each source as search documents
(``tests/fixtures/parity/catalog.jsonl.gz``).

``golden`` evaluates every query of ``golden.json`` with the *reference* reading of
the scene query written out below, independent of both backends' compilers: text
through :meth:`search.text.TextQuery.matches`, filters, exclusions and ranges as
plain Python over the documents. Queries with ``"now"`` are evaluated at that
instant; the others must give the same answer whenever they run.
"""
from __future__ import annotations

import argparse
import functools
import gzip
import json
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import search.text
from search.query import SceneQuery, parse_query
from search.query_values import normalise_datetime, parse_datetime

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = HERE / "golden.json"
CATALOG = ROOT / "tests" / "fixtures" / "parity" / "catalog.jsonl.gz"
DATA = ROOT.parent / "shared" / "data"
FACETS: tuple[str, ...] = ("source", "region", "publisher", "themes", "formats", "open_type", "update_frequency")
FACET_SIZE = 10
PAGE = 10
HARVEST_NOW = datetime(2024, 1, 1, tzinfo=UTC)

# (source name, file under ../shared/data, documents kept). All Apache-2.0 or MIT.
SOURCES: tuple[tuple[str, str, int], ...] = (
    ("zhejiang-hangzhou", "cnpds-china-portals/datacrawler/zhejiang_hangzhou.json.gz", 500),
    ("zhejiang-zhejiang", "cnpds-china-portals/datacrawler/zhejiang_zhejiang.json.gz", 250),
    ("shanghai-shanghai", "cnpds-china-portals/datacrawler/shanghai_shanghai.json.gz", 300),
    ("jiangsu-suzhou", "cnpds-china-portals/datacrawler/jiangsu_suzhou.json.gz", 250),
    ("guizhou-guiyang", "cnpds-china-portals/sichuan_guizhou/guizhou_guiyang.json.gz", 250),
    ("guangxi-nanning", "cnpds-china-portals/guangxi_hainan/guangxi_nanning.json.gz", 200),
    ("hainan-hainan", "cnpds-china-portals/guangxi_hainan/hainan_hainan.json.gz", 250),
    ("sichuan-aba", "cnpds-china-portals/sichuan_guizhou/sichuan_aba.json.gz", 200),
    ("hdruk", "hdruk-gateway/datasets.v2.csv.gz", 300),
    ("datos-gob-ar", "datajson-argentina/datos.gob.ar_data.json_2019-04-08.json.gz", 400),
    ("taipei", "taiwan-city-catalogs-2018/01_taipei.json.gz", 250),
    ("kaohsiung", "taiwan-city-catalogs-2018/09_kaohsiung.json.gz", 150),
)


# -- the fixture catalog ------------------------------------------------------------

def build_fixture(data: Path = DATA, seed: int = 20240101) -> int:
    """Harvest each source into a temporary store and keep a sample of it."""
    from sqlalchemy import select

    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from config.settings import load_settings
    from search.harvest import run_harvest
    from search.models import Dataset

    documents: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(load_settings({"SCENEWATCH_DATA_DIR": tmp, "SCENEWATCH_SCHEDULER": "0"}))
        with app.app_context():
            upgrade()
            for source, relative, keep in SOURCES:
                summary = run_harvest(source, str(data / relative), now=HARVEST_NOW)
                live = select(Dataset).where(Dataset.source == source, Dataset.deleted_at.is_(None))
                with db.session() as session:
                    docs = [row.to_document() for row in session.scalars(live.order_by(Dataset.id))]
                sample = random.Random(f"{seed}:{source}").sample(docs, min(keep, len(docs)))
                picked = sorted(sample, key=lambda d: d["id"])
                documents.extend(picked)
                print(f"{source}: harvested {summary.seen}, kept {len(picked)}", file=sys.stderr)
    CATALOG.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(CATALOG, "wt", encoding="utf-8", compresslevel=9) as out:
        for doc in documents:
            out.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
    return len(documents)


def load_catalog(path: Path = CATALOG) -> list[dict[str, Any]]:
    """The fixture's search documents."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# -- the reference reading of a scene query ------------------------------------------

def filter_values(document: dict[str, Any], name: str) -> set[str]:
    """The values a filter on ``name`` compares with: stripped non-empty strings
    (``formats`` lower-cased, ``region`` every level of the region path: province,
    city, district), booleans as ``true``/``false``."""
    raw = document.get(name)
    if name == "region" and document.get("region_path"):
        raw = document["region_path"]
    if name == "machine_readable":
        return {"true" if raw else "false"} if isinstance(raw, bool) else set()
    values = raw if isinstance(raw, list) else [raw]
    out = {v.strip() for v in values if isinstance(v, str) and v.strip()}
    return {v.lower() for v in out} if name == "formats" else out


def _wanted(values: tuple[Any, ...]) -> set[str]:
    return {("true" if v else "false") if isinstance(v, bool) else v for v in values}


def _range_value(document: dict[str, Any], name: str) -> Any:
    if name in ("created", "modified"):
        return normalise_datetime(document.get(name))
    if name.startswith("quality."):
        value = (document.get("quality") or {}).get(name.split(".", 1)[1])
    else:
        value = document.get(name)
    return None if isinstance(value, bool) or not isinstance(value, (int, float)) else value


def matches(query: SceneQuery, document: dict[str, Any], now: datetime,
            text: search.text.TextQuery | None = None) -> bool:
    """Whether ``document`` belongs to the scene, by the rules of search.query
    (``text``: the query's parsed text, when the caller has it already)."""
    for name, values in query.filters:
        if not filter_values(document, name) & _wanted(values):
            return False
    for name, values in query.exclude:
        if filter_values(document, name) & _wanted(values):
            return False
    for bound in query.resolve_ranges(now):
        value = _range_value(document, bound.field)
        if value is None:
            return False
        if not {"gte": value >= bound.value, "gt": value > bound.value,
                "lte": value <= bound.value, "lt": value < bound.value}[bound.op]:
            return False
    return (text or query.text_query()).matches(document)


@contextmanager
def cached_analysis() -> Iterator[None]:
    """Memoise :func:`search.text.tokens` while evaluating many queries over the same
    documents (the reference matcher analyses every field on every call)."""
    original = search.text.tokens
    if hasattr(original, "cache_info"):  # already memoised by an outer caller
        yield
        return
    search.text.tokens = functools.lru_cache(maxsize=None)(original)  # type: ignore[assignment]
    try:
        yield
    finally:
        search.text.tokens = original  # type: ignore[assignment]


def expected(entry: dict[str, Any], documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer to one golden entry: ids, facet counts and sorted first pages."""
    query = parse_query(entry["query"])
    now = parse_datetime(entry["now"]) if entry.get("now") else datetime.now(UTC)
    with cached_analysis():
        text = query.text_query()
        hits = [d for d in documents if matches(query, d, now, text)]
    facets = {}
    for name in FACETS:
        counts = Counter(v for d in hits for v in filter_values(d, name))
        facets[name] = [[v, n] for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]]
    modified = lambda d: normalise_datetime(d.get("modified"))  # noqa: E731
    dated = [d for d in hits if modified(d)]
    undated = [d for d in hits if not modified(d)]
    title = lambda d: (d.get("title") if isinstance(d.get("title"), str) else "").casefold()  # noqa: E731
    return {
        "ids": sorted(d["id"] for d in hits),
        "facets": facets,
        "pages": {
            "title": [d["id"] for d in sorted(hits, key=lambda d: (title(d), d["id"]))][:PAGE],
            "modified": [d["id"] for d in sorted(dated, key=lambda d: (modified(d), d["id"])) + sorted(
                undated, key=lambda d: d["id"])][:PAGE],
            "-modified": [d["id"] for d in sorted(dated, key=lambda d: (modified(d), d["id"]), reverse=True)
                          + sorted(undated, key=lambda d: d["id"], reverse=True)][:PAGE],
        },
    }


def refresh(check_only: bool) -> int:
    """Recompute every entry's expected answer; returns how many changed."""
    golden = json.loads(GOLDEN.read_text("utf-8"))
    documents = load_catalog()
    changed = 0
    for entry in golden["queries"]:
        answer = expected(entry, documents)
        if entry.get("expected") != answer:
            changed += 1
            old = set((entry.get("expected") or {}).get("ids", []))
            print(f"{entry['name']}: {len(old)} -> {len(answer['ids'])} ids", file=sys.stderr)
            entry["expected"] = answer
    if not check_only:
        GOLDEN.write_text(dump(golden), "utf-8")
    return changed


def dump(golden: dict[str, Any]) -> str:
    """golden.json with one line per query, id list and facet (reviewable diffs)."""
    lines = ["{", f'  "about": {json.dumps(golden["about"], ensure_ascii=False)},', '  "queries": [']
    for i, entry in enumerate(golden["queries"]):
        exp = entry.get("expected") or {}
        parts = [f'    {{"name": {json.dumps(entry["name"], ensure_ascii=False)},',
                 f'     "why": {json.dumps(entry.get("why", ""), ensure_ascii=False)},',
                 f'     "query": {json.dumps(entry["query"], ensure_ascii=False)},']
        if entry.get("now"):
            parts.append(f'     "now": {json.dumps(entry["now"])},')
        if exp:
            facets = ",\n".join(f'        {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}'
                                for k, v in exp["facets"].items())
            parts.append('     "expected": {')
            parts.append(f'      "ids": {json.dumps(exp["ids"], ensure_ascii=False)},')
            parts.append(f'      "pages": {json.dumps(exp["pages"], ensure_ascii=False)},')
            parts.append('      "facets": {\n' + facets + "}}")
        else:
            parts[-1] = parts[-1].rstrip(",")
        lines.append("\n".join(parts) + ("}," if i < len(golden["queries"]) - 1 else "}"))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("fixture", "golden", "check"))
    args = parser.parse_args(argv)
    if args.step == "fixture":
        print(f"wrote {build_fixture()} documents to {CATALOG}")
        return 0
    changed = refresh(check_only=args.step == "check")
    print(f"{changed} golden answer(s) {'would change' if args.step == 'check' else 'updated'}")
    return 1 if args.step == "check" and changed else 0


if __name__ == "__main__":
    sys.exit(main())
