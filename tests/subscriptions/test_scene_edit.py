"""Editing and duplicating scenes on the bundled real catalog: validation like creation,
a query change records a new baseline at once, run history stays, channels come and go."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from config.extensions import db
from notifier.models import Channel
from search.harvest import run_harvest
from subscriptions.accounts import register_user
from subscriptions.models import Scene, SceneMember, SceneRun
from subscriptions.runner import run_scene
from subscriptions.scene_channels import add_channel, remove_channel
from subscriptions.scenes import SceneError, create_scene, duplicate_scene, update_scene
from tests.helpers import sample_records, write_snapshot


@pytest.fixture
def records() -> list[dict]:
    return sample_records()[:120]


@pytest.fixture
def scene_id(app, tmp_path: Path, records: list[dict]) -> int:
    run_harvest("hz", write_snapshot(tmp_path / "s1.json", records), fmt="portal-json")
    with db.session() as s:
        owner = register_user(s, "editor@example.org", "long enough password")
        made = create_scene(s, owner, name="all of it", query={}, schedule="manual",
                            email="editor@example.org", email_verified=True)
        scene_id = made.scene.id
        assert made.baseline is not None and made.baseline.state == "baseline"  # taken on save
    return scene_id


def _members(scene_id: int) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(SceneMember.dataset_id).where(SceneMember.scene_id == scene_id)))


def test_query_change_records_a_new_baseline_and_keeps_history(scene_id: int, tmp_path: Path,
                                                              records: list[dict]) -> None:
    everything = _members(scene_id)
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        update = update_scene(s, scene, name="交通 only", query={"text": "交通"})
        assert update.changed == ["name", "query"] and update.query_changed
        assert update.baseline is not None and update.baseline.state == "baseline"
        baseline_matched = update.baseline.matched
    narrowed = _members(scene_id)
    assert 0 < len(narrowed) < len(everything) and narrowed <= everything
    assert baseline_matched == len(narrowed)
    with db.session() as s:
        states = [r.state for r in s.scalars(select(SceneRun).where(SceneRun.scene_id == scene_id)
                                             .order_by(SceneRun.id))]
    assert states == ["baseline", "baseline"]
    # The old members that the new query drops are not reported as removed: the next
    # run over an unchanged catalog finds nothing.
    document = run_scene(scene_id)
    assert document["run"]["state"] == "noop"
    assert document["counts"]["matched"] == len(narrowed)


def test_same_query_in_another_spelling_is_no_change(scene_id: int) -> None:
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        update = update_scene(s, scene, query="{}", schedule="manual")
        assert update.changed == [] and update.baseline is None
        assert s.scalar(select(func.count()).select_from(SceneRun)) == 1


def test_every_problem_is_named_and_nothing_changes(scene_id: int) -> None:
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        with pytest.raises(SceneError) as caught:
            update_scene(s, scene, name=" ", query={"filters": {"nope": ["x"]}}, schedule="every tuesday",
                         timezone_name="Mars/Base", tracked_fields=["colour"])
    fields = {p.field for p in caught.value.problems}
    assert {"name", "tracked_fields", "timezone"} <= fields
    assert any(f.startswith("query") for f in fields)
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert (scene.name, scene.schedule) == ("all of it", "manual") and not scene.query["text"]
        assert s.scalar(select(func.count()).select_from(SceneRun)) == 1


def test_schedule_change_moves_the_next_run(scene_id: int) -> None:
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert scene.next_run_at is None
        update = update_scene(s, scene, schedule="30 7 * * *", timezone_name="Europe/Berlin")
        assert update.changed == ["schedule"] and update.baseline is None
        assert scene.next_run_at is not None
        assert scene.next_run_at.minute == 30


def test_duplicate_copies_query_and_channels_with_its_own_baseline(scene_id: int) -> None:
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        update_scene(s, scene, query={"text": "交通"})
        copy = duplicate_scene(s, scene)
        copy_id = copy.scene.id
        assert copy.scene.name == "all of it (copy)"
        assert copy.scene.query == scene.query and copy.scene.feed_token != scene.feed_token
        assert [c.id for c in copy.scene.channels] == [c.id for c in scene.channels]
        assert copy.baseline is not None
        copy_matched = copy.baseline.matched
    assert _members(copy_id) == _members(scene_id)
    assert copy_matched == len(_members(scene_id)) > 0


def test_channels_added_and_removed(scene_id: int) -> None:
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        with pytest.raises(SceneError) as caught:
            add_channel(s, scene, email="not an address")
        assert caught.value.problems[0].field == "email"
        with pytest.raises(SceneError):
            add_channel(s, scene, email="EDITOR@example.org")  # already gets this scene
        (hook,) = add_channel(s, scene, webhook="http://127.0.0.1:9/hook")
        assert hook.secret.startswith("whsec_")
        (mail,) = add_channel(s, scene, email="colleague@example.org", email_cadence="weekly")
        assert not mail.verified and mail.cadence == "weekly"
        copy = duplicate_scene(s, scene, name="copy")
        hook_id, mail_id = hook.id, mail.id
        assert remove_channel(s, scene, hook_id)
        assert not remove_channel(s, scene, hook_id)
        # Still used by the copy: kept.
        assert s.get(Channel, hook_id) is not None
        assert remove_channel(s, copy.scene, hook_id)
        assert s.get(Channel, hook_id) is None
        assert mail_id in [c.id for c in scene.channels]
