"""Scene schedules: a preset name or a five-field cron expression, in a time zone."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from subscriptions.errors import FieldProblem

# Presets run at 08:00 local time: early enough to read the diff over morning coffee.
PRESETS: dict[str, str] = {
    "hourly": "0 * * * *",
    "daily": "0 8 * * *",
    "weekly": "0 8 * * mon",
    "monthly": "0 8 1 * *",
}
MANUAL = "manual"  # never runs by itself; `scenes run` or the web button only
# Scenes only: run after every harvest that changed a dataset the scene can match.
ON_CHANGE = "on-change"


class ScheduleError(FieldProblem):
    """A schedule or time zone that cannot be used, with the field it concerns."""


def check_timezone(name: str) -> ZoneInfo:
    """The zone called ``name``; raises ScheduleError for unknown zones."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("timezone", f"{name!r} is not a known time zone (e.g. Asia/Shanghai, UTC)") from None


def normalise_schedule(schedule: str) -> str:
    """Presets lower-cased, cron expressions with single spaces."""
    text = " ".join((schedule or "").split())
    return text.lower() if text.lower() in (*PRESETS, MANUAL, ON_CHANGE) else text


def trigger_for(schedule: str, tz_name: str) -> CronTrigger | None:
    """The cron trigger of ``schedule`` (None for manual and on-change); raises ScheduleError when invalid."""
    zone = check_timezone(tz_name)
    text = (schedule or "").strip().lower()
    if text in (MANUAL, ON_CHANGE):
        return None
    expression = PRESETS.get(text, text)
    if len(expression.split()) != 5:
        raise ScheduleError(
            "schedule",
            f"{schedule!r} is neither a preset ({', '.join([*PRESETS, MANUAL, ON_CHANGE])}) "
            "nor a 5-field cron expression",
        )
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        raise ScheduleError("schedule", f"{schedule!r} is not a valid cron expression: {exc}") from None


def next_run_after(schedule: str, tz_name: str, after: datetime) -> datetime | None:
    """The first scheduled time strictly after ``after`` (UTC); None for manual and
    on-change scenes (no clock runs them)."""
    trigger = trigger_for(schedule, tz_name)
    if trigger is None:
        return None
    fire = trigger.get_next_fire_time(None, after)
    # get_next_fire_time may return ``after`` itself when it falls on the schedule.
    while fire is not None and fire <= after:
        fire = trigger.get_next_fire_time(fire, fire.replace(microsecond=0) + timedelta(seconds=1))
    return fire.astimezone(UTC) if fire else None

