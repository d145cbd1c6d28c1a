"""Done when: two schedulers running at once produce each run exactly once, on SQLite
and on PostgreSQL (threads racing through the real claim and run path)."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.helpers import sample_records, write_snapshot

SCENES = 8
T1 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)


def _race(app: Flask, work: Callable[[], Any], workers: int = 2) -> list[Any]:
    """Run ``work`` in ``workers`` threads released at the same instant."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def body(index: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[index] = work()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def _prepare(tmp_path: Path) -> list[int]:
    from config.extensions import db
    from search.harvest import run_harvest
    from subscriptions.accounts import operator_user
    from subscriptions.models import Scene
    from subscriptions.runner import run_scene
    from subscriptions.scenes import create_scene

    records = sample_records()[:60]
    run_harvest("hz", write_snapshot(tmp_path / "a.json", records[:30]), fmt="portal-json")
    ids = []
    with db.session() as session:
        owner = operator_user(session)
        for n in range(SCENES):
            created = create_scene(session, owner, name=f"scene {n}", query={}, schedule="hourly",
                                   webhook=f"http://127.0.0.1:9/hook/{n}")
            ids.append(created.scene.id)
    for scene_id in ids:
        run_scene(scene_id, T1 - timedelta(hours=1), deliver=False)  # baselines
    run_harvest("hz", write_snapshot(tmp_path / "b.json", records[10:40]), fmt="portal-json")
    with db.session() as session:
        for scene in session.scalars(select(Scene)):
            scene.next_run_at = T1
    return ids


def _runs_and_notifications(scheduled_for: datetime) -> tuple[Counter[int], Counter[int]]:
    from config.extensions import db
    from notifier.models import Notification
    from subscriptions.models import SceneRun

    with db.session() as session:
        runs = Counter(session.scalars(select(SceneRun.scene_id).where(SceneRun.scheduled_for == scheduled_for)))
        notes = Counter(session.scalars(
            select(Notification.scene_id).join(SceneRun, SceneRun.id == Notification.run_id)
            .where(SceneRun.scheduled_for == scheduled_for)))
    return runs, notes


def _two_schedulers(app: Flask, tmp_path: Path) -> None:
    from config.extensions import db
    from search.harvest import run_harvest
    from subscriptions.due import claim_due_scenes
    from subscriptions.models import Scene, SceneRun
    from subscriptions.runner import run_scene

    ids = _prepare(tmp_path)

    def scheduler_tick() -> list[tuple[int, datetime]]:
        claimed = claim_due_scenes(now=T1 + timedelta(seconds=1))
        for scene_id, scheduled_for in claimed:
            run_scene(scene_id, scheduled_for, deliver=False)
        return claimed

    claims = _race(app, scheduler_tick)
    everything = [c for claimed in claims for c in claimed]
    assert sorted(everything) == sorted((i, T1) for i in ids), "each due scene claimed by one scheduler"
    runs, notes = _runs_and_notifications(T1)
    assert runs == Counter(dict.fromkeys(ids, 1)) and notes == Counter(dict.fromkeys(ids, 1))
    with db.session() as session:
        assert all(s.next_run_at == T2 for s in session.scalars(select(Scene)))

    # Second line of defence: both run every scene for the same time with no claim at all.
    run_harvest("hz", write_snapshot(tmp_path / "c.json", sample_records()[20:55]), fmt="portal-json")

    def unclaimed_tick() -> list[str]:
        return [run_scene(i, T2, deliver=False)["run"]["state"] for i in ids]

    states = _race(app, unclaimed_tick)
    assert all(state == "changed" for per_thread in states for state in per_thread), states
    runs, notes = _runs_and_notifications(T2)
    assert runs == Counter(dict.fromkeys(ids, 1)) and notes == Counter(dict.fromkeys(ids, 1))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SceneRun).where(SceneRun.state == "error")) == 0


def test_two_schedulers_on_sqlite(make_app, tmp_path: Path) -> None:
    app = make_app()
    _two_schedulers(app, tmp_path)


@pytest.mark.postgres
def test_two_schedulers_on_postgres(make_app, tmp_path: Path, postgres_url: str) -> None:
    url = postgres_url
    app = make_app(SCENEWATCH_DATABASE_URL=url)
    _two_schedulers(app, tmp_path)
