"""Replaying real DCAT-US catalog snapshots: every diff agrees with the catalog."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from config.extensions import db
from search.harvest import run_harvest
from search.models import Dataset, DatasetVersion
from subscriptions.accounts import operator_user
from subscriptions.diff import field_changes
from subscriptions.runner import run_scene
from subscriptions.scenes import DEFAULT_TRACKED, create_scene

pytestmark = pytest.mark.realdata


def _live_versions(source: str) -> dict[str, int]:
    with db.session() as session:
        return dict(session.execute(select(Dataset.id, Dataset.current_version_id)
                                    .where(Dataset.source == source, Dataset.deleted_at.is_(None))).all())


def _content(version_id: int) -> dict:
    with db.session() as session:
        return session.get(DatasetVersion, version_id).content


@pytest.mark.parametrize("portal", ["01b-18163", "04b-24025"])
def test_series_replay_diffs_match_catalog(app, shared_data: Path, portal: str) -> None:
    snapshots = sorted((shared_data / "dcat-us-arcgis" / "series" / portal).glob(f"{portal}_*.json*"))
    assert len(snapshots) >= 30
    source = f"arcgis-{portal}"
    previous: dict[str, int] | None = None
    totals = {"added": 0, "removed": 0, "changed": 0, "moved": 0}
    scene_id = 0
    for snapshot in snapshots:
        summary = run_harvest(source, str(snapshot), fmt="dcat-json")
        assert summary.seen == summary.new + summary.changed + summary.unchanged + summary.quarantined
        current = _live_versions(source)
        if previous is None:  # saving the scene after the first snapshot takes its baseline
            with db.session() as session:
                created = create_scene(session, operator_user(session), name=f"all of {portal}",
                                       query={"filters": {"source": [source]}}, schedule="manual")
                scene_id = created.scene.id
                assert created.baseline is not None
                document = dict(created.baseline.diff or {})
        else:
            document = run_scene(scene_id)
        if previous is None:
            assert document["run"]["state"] == "baseline"
            assert document["added"] == [] and document["counts"]["matched"] == len(current)
        else:
            added = {a["id"] for a in document["added"]} | {m["to"] for m in document["moved"]}
            removed = {r["id"] for r in document["removed"]} | {m["from"] for m in document["moved"]}
            assert added == current.keys() - previous.keys(), snapshot.name
            assert removed == previous.keys() - current.keys(), snapshot.name
            expected_changed = {}
            for dataset_id in current.keys() & previous.keys():
                if current[dataset_id] != previous[dataset_id]:
                    changes = field_changes(_content(previous[dataset_id]), _content(current[dataset_id]),
                                            DEFAULT_TRACKED)
                    if changes:
                        expected_changed[dataset_id] = sorted(c.field for c in changes)
            got_changed = {c["id"]: sorted(x["field"] for x in c["changes"]) for c in document["changed"]}
            assert got_changed == expected_changed, snapshot.name
            for reason in {r["reason"] for r in document["removed"]}:
                assert reason in {"no_longer_matches", "deleted_from_catalog"}
            state = document["run"]["state"]
            assert state == ("noop" if not (added or removed or expected_changed) else "changed")
            for key in totals:
                totals[key] += document["counts"][key]
        previous = current
    # The series is real: over 3 years the catalog did change.
    assert totals["added"] + totals["removed"] + totals["changed"] + totals["moved"] > 0
    # A run right after with nothing harvested finds nothing.
    again = run_scene(scene_id)
    assert again["run"]["state"] == "noop" and again["counts"]["added"] == 0
