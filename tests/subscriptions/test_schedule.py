"""Schedules: presets and cron in the scene's time zone; due scenes claimed once."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.extensions import db
from subscriptions.accounts import operator_user
from subscriptions.due import claim_due_scenes
from subscriptions.models import Scene
from subscriptions.scenes import SceneError, create_scene
from subscriptions.schedule import ScheduleError, next_run_after, normalise_schedule

NOON_UTC = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_daily_preset_is_eight_local_time() -> None:
    # 08:00 in Shanghai is 00:00 UTC; at noon UTC the next one is tomorrow.
    assert next_run_after("daily", "Asia/Shanghai", NOON_UTC) == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert next_run_after("daily", "Europe/London", NOON_UTC) == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_cron_and_manual() -> None:
    assert next_run_after("*/15 * * * *", "UTC", NOON_UTC) == datetime(2026, 11, 27, 12, 15, tzinfo=UTC)
    assert next_run_after("manual", "UTC", NOON_UTC) is None
    assert normalise_schedule("  Weekly ") == "weekly"
    assert normalise_schedule("0  6 * *   mon") == "0 6 * * mon"


@pytest.mark.parametrize("schedule, tz, field", [
    ("fortnightly", "UTC", "schedule"), ("61 * * * *", "UTC", "schedule"), ("daily", "Mars/Olympus", "timezone"),
])
def test_bad_schedule_names_the_field(schedule: str, tz: str, field: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        next_run_after(schedule, tz, NOON_UTC)
    assert caught.value.field == field


def test_scene_with_bad_parts_lists_every_problem(app) -> None:
    with db.session() as session, pytest.raises(SceneError) as caught:
        create_scene(session, operator_user(session), name="", query={"filters": {"regoin": ["x"]}},
                     schedule="fortnightly", tracked_fields=["colour"])
    fields = {p.field for p in caught.value.problems}
    assert {"name", "schedule", "tracked_fields"} <= fields
    assert any(f.startswith("query.") and "regoin" in f for f in fields)


def test_due_scene_is_claimed_once_and_advanced(app) -> None:
    with db.session() as session:
        scene = create_scene(session, operator_user(session), name="hourly", query={}, schedule="hourly",
                             timezone_name="UTC", now=datetime(2026, 11, 27, 9, 30, tzinfo=UTC)).scene
        scene_id = scene.id
    assert claim_due_scenes(datetime(2026, 11, 27, 9, 59, tzinfo=UTC)) == []
    claimed = claim_due_scenes(NOON_UTC)
    assert claimed == [(scene_id, datetime(2026, 11, 27, 10, 0, tzinfo=UTC))]
    assert claim_due_scenes(NOON_UTC) == []  # advanced past now: a second claim finds nothing
    with db.session() as session:
        assert session.get(Scene, scene_id).next_run_at == datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
