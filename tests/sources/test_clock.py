"""The clock harvests: due sources are claimed once however many schedulers tick, and
one harvest per source runs at a time however many workers try."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from config.extensions import db
from search.models import Harvest, Source
from search.source_runs import claim_due_sources, harvest_source
from search.sources import SourceBusy, SourceSpec, add_source
from tests.helpers import sample_records, write_snapshot


def _add(tmp_path: Path, name: str = "hz", schedule: str = "* * * * *") -> None:
    path = write_snapshot(tmp_path / f"{name}.json", sample_records()[:60])
    with db.session() as session:
        add_source(session, SourceSpec(name=name, location=path, schedule=schedule))


def _make_due(name: str, when: datetime) -> None:
    with db.session() as session:
        session.execute(update(Source).where(Source.name == name).values(next_harvest_at=when))


def _harvests(name: str) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Harvest)
                                  .where(Harvest.source == name)) or 0)


def test_a_due_source_is_claimed_once_and_rescheduled(app, tmp_path: Path) -> None:
    _add(tmp_path)
    _add(tmp_path, "manual-one", "manual")
    _add(tmp_path, "paused-one")
    now = datetime.now(UTC)
    due = now - timedelta(seconds=5)
    for name in ("hz", "paused-one"):
        _make_due(name, due)
    with db.session() as session:
        session.execute(update(Source).where(Source.name == "paused-one").values(paused=True))
    assert claim_due_sources(now) == [("hz", due)]
    assert claim_due_sources(now) == []  # a second scheduler finds nothing left
    with db.session() as session:
        following = session.scalar(select(Source.next_harvest_at).where(Source.name == "hz"))
    assert following is not None and now < following <= now + timedelta(minutes=1)


def test_two_schedulers_ticking_at_once_harvest_once(app, tmp_path: Path) -> None:
    from search.tasks import harvest_due_sources_task

    _add(tmp_path)
    _make_due("hz", datetime.now(UTC) - timedelta(seconds=1))
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def tick() -> None:
        with app.app_context():
            barrier.wait()
            counts.append(harvest_due_sources_task())

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(counts) == [0, 0, 0, 1]
    assert _harvests("hz") == 1


def test_one_harvest_per_source_at_a_time(app, tmp_path: Path) -> None:
    _add(tmp_path, schedule="manual")
    started = datetime.now(UTC)
    with db.session() as session:  # another worker holds the lease
        session.execute(update(Source).where(Source.name == "hz").values(harvesting_since=started))
    with pytest.raises(SourceBusy):
        harvest_source("hz")
    assert _harvests("hz") == 0
    # A lease left by a killed worker runs out.
    with db.session() as session:
        session.execute(update(Source).where(Source.name == "hz")
                        .values(harvesting_since=started - timedelta(hours=2)))
    assert harvest_source("hz").status == "ok"
    with db.session() as session:
        assert session.scalar(select(Source.harvesting_since).where(Source.name == "hz")) is None


def test_workers_racing_on_one_source_run_one_harvest(app, tmp_path: Path) -> None:
    _add(tmp_path, schedule="manual")
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def work() -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(harvest_source("hz").status)
            except SourceBusy:
                outcomes.append("busy")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("ok") >= 1
    assert outcomes.count("ok") + outcomes.count("busy") == 3
    assert _harvests("hz") == outcomes.count("ok")
