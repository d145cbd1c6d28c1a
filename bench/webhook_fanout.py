"""Webhook delivery: fan-out throughput and change → webhook-received latency.

1. Fan-out: N due notifications (default 2,000) for one local receiver, sent by one
   ``deliver_due`` call (what `scenewatch deliveries flush` and the delivery tick do);
   deliveries per second, from the first claim to the last logged attempt. Target ≥ 1,000/s.
2. Latency: a harvest changes the catalog, the scene runs, the webhook arrives
   (embedded default: delivered in-process right after the run commits); p50 / p95 of
   the time from the harvest's commit to the receiver having the request, over R rounds.

The receiver is a process of its own on 127.0.0.1 that verifies every signature
(``tests/delivery/receiver_server.py``). Results go to ``bench/results/webhook.json``.

    .venv/bin/python bench/webhook_fanout.py [--count 2000] [--rounds 40] [--concurrency 16]
                                             [--database-url postgresql+psycopg://…]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.delivery.receiver_server import read_log  # noqa: E402
from tests.helpers import sample_records, write_snapshot  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "webhook.json"


def start_receiver(work: Path, secret: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """A verifying receiver process; returns it, its URL and its log file."""
    log, port_file = work / "received.jsonl", work / "receiver.port"
    proc = subprocess.Popen([sys.executable, "-m", "tests.delivery.receiver_server", "--secret", secret,
                             "--log", str(log), "--port-file", str(port_file)], cwd=ROOT)
    while not port_file.exists() or not port_file.read_text():
        if proc.poll() is not None:
            raise SystemExit("receiver did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}/hook", log


def wait_for(log: Path, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """The receiver's log once it holds ``count`` requests."""
    deadline = time.monotonic() + timeout
    while True:
        entries = read_log(log)
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.005)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def fanout(count: int, channel_id: int, log: Path) -> dict[str, Any]:
    """Send ``count`` due notifications in one batch; deliveries per second."""
    from config.extensions import db
    from notifier.delivery import deliver_due
    from notifier.lifecycle import new_message_id
    from notifier.models import Notification

    before = len(read_log(log))
    now = datetime.now(UTC)
    with db.session() as session:
        session.add_all(Notification(
            message_id=new_message_id(), channel_id=channel_id, event_type="scene.changed",
            payload={"n": n, "counts": {"added": 1}, "added": [{"id": f"bench:{n}", "title": "公交线路"}]},
            state="pending", attempts=0, next_attempt_at=now, created_at=now) for n in range(count))
    started = time.perf_counter()
    result = deliver_due()
    elapsed = time.perf_counter() - started
    entries = wait_for(log, before + count)[before:]
    return {"notifications": count, "seconds": round(elapsed, 3), "deliveries_per_s": round(count / elapsed, 1),
            "states": result, "received": len(entries), "verified": sum(1 for e in entries if e["verified"])}


def latency(rounds: int, scene_id: int, work: Path, log: Path) -> dict[str, Any]:
    """Harvest a change, run the scene, time until the receiver has the webhook."""
    from search.harvest import run_harvest
    from subscriptions.runner import run_scene

    records = sample_records()[:60]
    samples: list[float] = []
    for n in range(rounds):
        before = len(read_log(log))
        part = records[:30] if n % 2 else records[5:40]
        path = write_snapshot(work / f"round{n % 2}.json", part)
        run_harvest("bench", path, fmt="portal-json")
        changed_at = time.time()
        document = run_scene(scene_id)
        if document["run"]["state"] != "changed":
            raise SystemExit(f"round {n}: the scene did not change ({document['run']['state']})")
        entry = wait_for(log, before + 1)[before]
        samples.append((entry["received_at"] - changed_at) * 1000)
    return {"rounds": rounds, "p50_ms": round(percentile(samples, 0.50), 1),
            "p95_ms": round(percentile(samples, 0.95), 1), "max_ms": round(max(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="scenewatch-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update({"SCENEWATCH_DATA_DIR": str(work / "instance"), "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1",
                "SCENEWATCH_DELIVERY_CONCURRENCY": str(args.concurrency), "SCENEWATCH_LOG_LEVEL": "WARNING"})
    if args.database_url:
        env["SCENEWATCH_DATABASE_URL"] = args.database_url
    import logging

    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from config.settings import load_settings
    from search.harvest import run_harvest
    from subscriptions.accounts import operator_user
    from subscriptions.runner import run_scene
    from subscriptions.scenes import create_scene

    app = create_app(load_settings(env))
    logging.getLogger("scenewatch").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        from notifier.signing import generate_secret

        secret = generate_secret()
        receiver, url, log = start_receiver(work, secret)
        try:
            run_harvest("bench", write_snapshot(work / "round0.json", sample_records()[:30]), fmt="portal-json")
            with db.session() as session:
                created = create_scene(session, operator_user(session), name="bench", query={}, schedule="manual",
                                       webhook=url)
                created.channels[0].secret = secret
                scene_id, channel_id = created.scene.id, created.channels[0].id
            run_scene(scene_id)  # baseline
            fan = fanout(args.count, channel_id, log)
            lat = latency(args.rounds, scene_id, work, log)
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)
    result = {
        "benchmark": "webhook_fanout", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": db.engine.dialect.name if db.engine is not None else "?",
        "concurrency": args.concurrency, "fanout": fan, "change_to_webhook": lat,
        "target_deliveries_per_s": 1000, "machine": {"python": platform.python_version(),
                                                     "cpus": os.cpu_count(), "system": platform.platform()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"fan-out: {fan['notifications']} webhooks in {fan['seconds']} s = {fan['deliveries_per_s']}/s "
          f"(received {fan['received']}, verified {fan['verified']}; target >= 1000/s)")
    print(f"change -> webhook received: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, max {lat['max_ms']} ms "
          f"over {lat['rounds']} rounds")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
