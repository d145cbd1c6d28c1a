"""Quiet hours and pause: when a channel must not be sent to right now.

Quiet hours are two local wall-clock times ("22:00" to "07:30") in the owner's time
zone; a window whose end is before its start runs over midnight. A delivery that
falls due inside the window keeps its state and waits for the window's end. A paused
channel holds its notifications; resuming releases them (see :func:`resume_channel`).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from notifier.models import Channel

CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_clock(text: str) -> time:
    """``HH:MM`` (24-hour) as a time; ValueError naming the expected form otherwise."""
    match = CLOCK.match((text or "").strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day; use HH:MM, e.g. 22:00")
    return time(int(match.group(1)), int(match.group(2)))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(start: str | None, end: str | None, tz_name: str | None, now: datetime) -> datetime | None:
    """The UTC end of the quiet window containing ``now``, or None outside quiet hours
    (or when no window is set, or start equals end)."""
    if not start or not end:
        return None
    begin, finish = parse_clock(start), parse_clock(end)
    if begin == finish:
        return None
    zone = _zone(tz_name)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if begin < finish:
        inside = begin <= clock < finish
        end_day = local.date()
    else:  # over midnight
        inside = clock >= begin or clock < finish
        end_day = local.date() + timedelta(days=1) if clock >= begin else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, finish, tzinfo=zone).astimezone(UTC)


def resume_channel(session: Session, channel: Channel, now: datetime | None = None) -> int:
    """Unpause ``channel``; its held notifications become due now (immediate cadence and
    confirmed addresses only: digest channels keep them for the digest). Returns how many."""
    from notifier.lifecycle import release

    channel.paused = False
    return release(session, channel, now)
