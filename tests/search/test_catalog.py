"""The catalog store's handling of successive snapshots of one source: new, changed,
unchanged, removed (tombstoned) and restored datasets, versions and the harvest log."""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from search.catalog import content_hash
from search.harvest import run_harvest
from search.models import CONTENT_FIELDS, Dataset, DatasetVersion, Harvest, QuarantinedRecord
from tests.search.conftest import fixture_records

T0 = datetime(2023, 7, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def snapshot(tmp_path: Path):
    """Writes a snapshot of the Nanning portal export and harvests it as source 'nn'."""
    path = tmp_path / "guangxi_nanning.json"

    def harvest(records: list[dict[str, Any]], now: datetime) -> Any:
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        summary = run_harvest("nn", str(path), now=now)
        accounted = summary.new + summary.changed + summary.unchanged + summary.quarantined
        assert summary.seen == accounted
        return summary

    return harvest


def _state(db: Any) -> dict[str, Dataset]:
    with db.session() as session:
        return {d.title: d for d in session.scalars(select(Dataset).where(Dataset.source == "nn"))}


def _versions(db: Any, dataset_id: str) -> list[DatasetVersion]:
    with db.session() as session:
        query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
        return list(session.scalars(query.order_by(DatasetVersion.id)))


def test_first_snapshot_creates_datasets_and_versions(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    summary = snapshot(records, T0)
    assert (summary.new, summary.changed, summary.unchanged, summary.removed) == (6, 0, 0, 0)
    state = _state(store)
    assert len(state) == 6
    for dataset in state.values():
        [version] = _versions(store, dataset.id)
        assert dataset.current_version_id == version.id
        assert version.content == dataset.content()
        assert version.content_hash == dataset.content_hash == content_hash(dataset.content())
        assert version.harvest_id == summary.harvest_id
        assert dataset.first_seen_at == dataset.last_seen_at == dataset.last_changed_at == T0
        assert dataset.deleted_at is None
        assert dataset.native_id and dataset.id == f"nn:{dataset.native_id}"
    with store.session() as session:
        harvest = session.get(Harvest, summary.harvest_id)
    assert (harvest.state, harvest.format, harvest.seen) == ("done", "portal-json", 6)
    assert harvest.new == 6
    assert harvest.finished_at is not None and harvest.error is None


def test_changed_unchanged_removed_and_new(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    snapshot(records, T0)
    before = _state(store)

    later = copy.deepcopy(records)
    changed_title = later[0]["标题"]
    later[0]["描述"] = "更新后的描述"
    later[0]["更新时间"] = "2023-07-01"
    removed_title = later.pop(5)["标题"]
    added = dict(later[1], 标题="新增数据集", 详情页网址="https://nn.data.gxzf.gov.cn/nn/catalog/new-one")
    later.append(added)
    summary = snapshot(later, T0 + DAY)
    assert (summary.new, summary.changed, summary.unchanged, summary.removed) == (1, 1, 4, 1)

    after = _state(store)
    changed = after[changed_title]
    assert changed.description == "更新后的描述" and changed.modified == "2023-07-01"
    old_version, new_version = _versions(store, changed.id)
    assert old_version.content["description"] == before[changed_title].description  # history kept
    assert changed.current_version_id == new_version.id and new_version.seen_at == T0 + DAY
    assert changed.last_changed_at == T0 + DAY

    untouched = after[records[2]["标题"]]
    assert untouched.last_seen_at == T0 + DAY
    assert untouched.last_changed_at == T0
    assert untouched.current_version_id == before[records[2]["标题"]].current_version_id
    assert len(_versions(store, untouched.id)) == 1

    gone = after[removed_title]
    assert gone.deleted_at == T0 + DAY and gone.last_seen_at == T0
    assert after["新增数据集"].first_seen_at == T0 + DAY


def test_a_dataset_that_reappears_is_restored_as_new(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    snapshot(records, T0)
    snapshot(records[:-1], T0 + DAY)
    summary = snapshot(records, T0 + 2 * DAY)
    assert (summary.new, summary.changed, summary.unchanged, summary.removed) == (1, 0, 5, 0)
    back = _state(store)[records[-1]["标题"]]
    assert back.deleted_at is None and back.last_seen_at == T0 + 2 * DAY
    assert back.first_seen_at == T0
    assert len(_versions(store, back.id)) == 1  # same content: the same version again


def test_content_going_back_points_at_the_earlier_version(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    snapshot(records, T0)
    edited = copy.deepcopy(records)
    edited[0]["数据量"] = "999"
    snapshot(edited, T0 + DAY)
    summary = snapshot(records, T0 + 2 * DAY)
    assert summary.changed == 1
    dataset = _state(store)[records[0]["标题"]]
    first, second = _versions(store, dataset.id)
    assert second.content["record_count"] == 999
    assert dataset.current_version_id == first.id  # versions are unique per content


def test_growing_late_refreshes_quality_without_a_new_version(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    snapshot(records, T0)
    before = _state(store)
    summary = snapshot(records, T0 + timedelta(days=800))
    assert (summary.changed, summary.unchanged) == (0, 6)
    assert summary.quality_updated > 0
    after = _state(store)
    late = [t for t in after if after[t].quality["timeliness"] != before[t].quality["timeliness"]]
    assert len(late) == summary.quality_updated
    for title in late:
        assert after[title].content_hash == before[title].content_hash
        assert len(_versions(store, after[title].id)) == 1


def test_accuracy_from_users_outlives_harvests(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    snapshot(records, T0)
    dataset_id = _state(store)[records[0]["标题"]].id
    with store.session() as session:
        row = session.get(Dataset, dataset_id)
        row.quality = {**row.quality, "accuracy": 0.25}
    edited = copy.deepcopy(records)
    edited[0]["描述"] = "改"
    snapshot(edited, T0 + DAY)
    assert _state(store)[records[0]["标题"]].quality["accuracy"] == 0.25


def test_a_snapshot_with_nothing_usable_removes_nothing(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    snapshot(records, T0)
    summary = snapshot([{"标题": ""}, "garbage"], T0 + DAY)
    assert (summary.removed, summary.quarantined) == (0, 2)
    assert summary.warnings and "kept, not removed" in summary.warnings[0]
    assert all(d.deleted_at is None for d in _state(store).values())


def test_quarantine_rows_keep_reason_raw_and_position(store: Any, snapshot: Any) -> None:
    records = fixture_records("guangxi_nanning.json")
    summary = snapshot(records + [records[0]], T0)
    with store.session() as session:
        [row] = session.scalars(select(QuarantinedRecord)).all()
    assert row.harvest_id == summary.harvest_id and row.source == "nn"
    assert row.position == "item 7"
    assert row.reason.startswith("duplicate of nn:https://")
    assert json.loads(row.raw) == records[0]
    assert row.created_at == T0


def test_content_hash_ignores_quality_and_bookkeeping() -> None:
    doc = dict.fromkeys(CONTENT_FIELDS) | {"title": "公交线路", "themes": ["交通运输"]}
    assert content_hash(doc) == content_hash({**doc, "quality": {"timeliness": 0.0}, "id": "x"})
    assert content_hash(doc) != content_hash({**doc, "themes": ["交通"]})


def test_two_sources_do_not_touch_each_other(store: Any, fixtures_dir: Path, snapshot: Any) -> None:
    snapshot(fixture_records("guangxi_nanning.json"), T0)
    run_harvest("aba", str(fixtures_dir / "sichuan_aba.json"), now=T0)
    snapshot(fixture_records("guangxi_nanning.json")[:2], T0 + DAY)
    with store.session() as session:
        aba = session.scalars(select(Dataset).where(Dataset.source == "aba")).all()
    assert len(aba) == 4 and all(d.deleted_at is None for d in aba)


def test_changes_reach_the_search_index(indexed_store: Any, snapshot: Any) -> None:
    from search.query import parse_query

    records = fixture_records("guangxi_nanning.json")
    summary = snapshot(records, T0)
    assert summary.index_failures == [] and indexed_store.count() == 6
    hits = indexed_store.search(parse_query({"text": "交通"}))
    assert hits.total == 3 and all("交通" in h.document["title"] for h in hits.hits)

    edited = copy.deepcopy(records[1:])
    edited[0]["标题"] = "交通运输行政许可"
    summary = snapshot(edited, T0 + DAY)
    assert (summary.removed, summary.changed, summary.unchanged) == (1, 1, 4)
    assert indexed_store.count() == 5
    found = indexed_store.search(parse_query({"text": "交通"}))
    assert sorted(h.document["title"] for h in found.hits) == ["交通中标公示信息", "交通运输行政许可"]


def test_backend_failures_are_reported_not_fatal(store: Any, snapshot: Any, tmp_path: Path) -> None:
    from config.extensions import search
    from search.backends.sqlite import SqliteSearchBackend

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the index directory should be")
    search.backend = SqliteSearchBackend(f"sqlite:///{blocker / 'search.sqlite'}")
    summary = snapshot(fixture_records("guangxi_nanning.json"), T0)
    assert summary.new == 6 and len(_state(store)) == 6  # the store is written
    assert len(summary.index_failures) == 6
    dataset_id, reason = summary.index_failures[0]
    assert dataset_id.startswith("nn:") and reason
    with store.session() as session:
        assert session.get(Harvest, summary.harvest_id).state == "done"


@pytest.mark.postgres
def test_snapshots_on_postgresql(tmp_path: Path, fixtures_dir: Path, postgres_url: str) -> None:
    """The generic write path (RETURNING for version ids) on PostgreSQL."""
    from config.extensions import db, search
    from tests.template_db import migrate

    url = postgres_url
    previous = search.backend
    search.backend = None
    db.init(url)
    try:
        migrate(url)
        records = fixture_records("guangxi_nanning.json")
        path = tmp_path / "guangxi_nanning.json"
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        first = run_harvest("nn", str(path), now=T0)
        edited = copy.deepcopy(records[1:])
        edited[0]["描述"] = "改"
        path.write_text(json.dumps(edited + [records[0]], ensure_ascii=False), encoding="utf-8")
        second = run_harvest("nn", str(path), now=T0 + DAY)
        assert (first.new, second.changed, second.unchanged, second.removed) == (6, 1, 5, 0)
        with db.session() as session:
            rows = session.scalars(select(Dataset)).all()
            assert len(rows) == 6 and all(r.current_version_id for r in rows)
            assert len(session.scalars(select(DatasetVersion)).all()) == 7
    finally:
        search.backend = previous
        db.engine.dispose()
