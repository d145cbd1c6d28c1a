"""Store size after a year of daily runs of 1,000 scenes, with and without retention.

    .venv/bin/python bench/store_growth.py [--scenes 1000] [--days 365] [--retention 90] [--out FILE]

Each simulated day every scene records a run, as the runner writes it: about one in
five finds a change (a few datasets added or changed, listed with their real
content from the bundled Hangzhou catalog) and then writes a webhook notification
with one or two delivery attempts; the others are no-ops. The same year is written
twice into fresh embedded stores: once keeping everything
(``SCENEWATCH_RETENTION_DAYS=0``) and once with the clock's daily compaction
(:func:`subscriptions.retention.compact_history`, whose Sunday run VACUUMs the
SQLite store). Prints the size of each store — and, for comparison, its size after
one more VACUUM by hand — and writes ``bench/results/store_growth.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "bench" / "results" / "store_growth.json"
START = datetime(2024, 1, 1, 8, tzinfo=UTC)


def _catalog_entries() -> list[dict[str, Any]]:
    """Real dataset summaries (as diff documents list them) from the bundled sample."""
    from search.mapping import load_mapping
    from search.normalise import normalise_record
    from search.regions import portal_path
    from tests.helpers import sample_records

    mapping = load_mapping(None)
    entries = []
    for n, record in enumerate(sample_records()):
        try:
            doc = normalise_record(mapping.apply(record), portal_path("zhejiang_hangzhou"))
        except Exception:  # noqa: BLE001 - a record the harvester would quarantine
            continue
        entries.append({"id": f"hz:{n}", **{k: doc.get(k) for k in (
            "title", "publisher", "region", "formats", "open_type", "update_frequency", "modified",
            "record_count", "landing_page")}})
    return entries


def _document(scene_id: int, run_id: int, day: datetime, rng: random.Random,
              entries: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    changed = rng.random() < 0.2
    added = rng.sample(entries, rng.randint(1, 5)) if changed else []
    edits = rng.sample(entries, rng.randint(0, 3)) if changed else []
    document: dict[str, Any] = {
        "scene": {"id": scene_id, "name": f"scene {scene_id}"},
        "run": {"id": run_id, "state": "changed" if changed else "noop",
                "scheduled_for": day.isoformat(), "started_at": day.isoformat(), "finished_at": day.isoformat()},
        "counts": {"matched": 300 + scene_id % 500, "added": len(added), "removed": 0,
                   "changed": len(edits), "moved": 0},
        "added": added,
        "removed": [],
        "changed": [{"id": e["id"], "title": e["title"], "landing_page": e["landing_page"],
                     "changes": [{"field": "modified", "old": "2023-05-01", "new": e["modified"]}]}
                    for e in edits],
        "moved": [],
        "links": {"scene": f"http://127.0.0.1:8000/scenes/{scene_id}",
                  "run": f"http://127.0.0.1:8000/runs/{run_id}",
                  "download_all": f"http://127.0.0.1:8000/download/{'x' * 120}"},
    }
    return document["run"]["state"], document


def simulate(data_dir: Path, scenes: int, days: int, retention: int) -> dict[str, Any]:
    from config.app import create_app
    from config.migrate import upgrade
    from config.settings import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update(SCENEWATCH_DATA_DIR=str(data_dir), SCENEWATCH_WEBHOOK_ALLOW_PRIVATE="1")
    app = create_app(load_settings(env))
    with app.app_context():
        upgrade()
        return _simulate(data_dir, scenes, days, retention)


def _simulate(data_dir: Path, scenes: int, days: int, retention: int) -> dict[str, Any]:
    from sqlalchemy import func, insert, select, text

    from config.extensions import db
    from notifier.models import Delivery, Notification
    from subscriptions.accounts import operator_user
    from subscriptions.models import SceneRun
    from subscriptions.retention import compact_history
    from subscriptions.scenes import create_scene

    rng = random.Random(5)
    entries = _catalog_entries()
    with db.session() as session:
        owner = operator_user(session)
        pairs = []
        for n in range(scenes):
            # Saved the day before the simulated year: saving records the scene's baseline run.
            created = create_scene(session, owner, name=f"scene {n}", query={"text": "交通"}, schedule="daily",
                                   webhook="http://127.0.0.1:9/hook", now=START - timedelta(days=1))
            pairs.append((created.scene.id, created.channels[0].id))
        run_id = session.scalar(select(func.max(SceneRun.id))) or 0
    note_id = 0
    compacted = {"runs": 0, "notifications": 0, "deliveries": 0}
    started = time.perf_counter()
    for offset in range(days):
        day = START + timedelta(days=offset)
        runs, notes, attempts = [], [], []
        for scene_id, channel_id in pairs:
            run_id += 1
            state, document = _document(scene_id, run_id, day, rng, entries)
            counts = document["counts"]
            runs.append({"id": run_id, "scene_id": scene_id, "scheduled_for": day, "state": state,
                         "matched": counts["matched"], "added": counts["added"], "removed": 0,
                         "changed": counts["changed"], "moved": 0, "diff": document, "started_at": day,
                         "finished_at": day})
            if state == "changed":
                note_id += 1
                notes.append({"id": note_id, "message_id": f"msg_{note_id:012d}", "channel_id": channel_id,
                              "scene_id": scene_id, "run_id": run_id, "event_type": "scene.changed",
                              "payload": {"type": "scene.changed", "timestamp": day.isoformat(), "data": document},
                              "state": "sent", "attempts": 1, "created_at": day, "sent_at": day})
                for attempt in range(1, 2 + (rng.random() < 0.1)):
                    attempts.append({"notification_id": note_id, "attempt": attempt, "attempted_at": day,
                                     "ok": True, "status_code": 204, "latency_ms": rng.randint(5, 300)})
        with db.session() as session:
            session.execute(insert(SceneRun), runs)
            if notes:
                session.execute(insert(Notification), notes)
                session.execute(insert(Delivery), attempts)
        if retention:
            report = compact_history(retention, now=day + timedelta(hours=19))
            for key, value in report.to_dict().items():
                compacted[key] += value
    seconds = time.perf_counter() - started
    with db.session() as session:
        rows = {"runs": session.scalar(select(func.count()).select_from(SceneRun)),
                "notifications": session.scalar(select(func.count()).select_from(Notification)),
                "deliveries": session.scalar(select(func.count()).select_from(Delivery))}
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    store = data_dir / "scenewatch.sqlite"
    size = store.stat().st_size
    with db.engine.connect() as connection:  # type: ignore[union-attr]
        connection.execute(text("VACUUM"))
    vacuumed = store.stat().st_size
    db.engine.dispose()  # type: ignore[union-attr]
    return {"retention_days": retention, "rows": rows, "compacted": compacted,
            "store_mb": round(size / 2**20, 1), "store_mb_after_vacuum": round(vacuumed / 2**20, 1),
            "write_seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--retention", type=int, default=90)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    results = []
    for retention in (0, args.retention):
        with tempfile.TemporaryDirectory(prefix="scenewatch-growth-") as tmp:
            results.append(simulate(Path(tmp), args.scenes, args.days, retention))
            print(json.dumps(results[-1]), flush=True)
    keep_all, bounded = results
    result = {
        "benchmark": f"store size after {args.days} days of daily runs of {args.scenes} scenes "
                     "(about 1 in 5 runs changed, each with a webhook notification)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "keep_everything": keep_all,
        "with_retention": bounded,
        "ratio": round(bounded["store_mb"] / max(keep_all["store_mb"], 0.1), 3),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"after {args.days} days of {args.scenes} scenes: {keep_all['store_mb']} MB keeping everything, "
          f"{bounded['store_mb']} MB with {args.retention}-day retention "
          f"({bounded['store_mb_after_vacuum']} MB after VACUUM); written to {args.out}")


if __name__ == "__main__":
    main()
