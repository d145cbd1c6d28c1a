"""Changing a channel: pause and resume, digest time, quiet hours, secret rotation, and
the "send test event" for a webhook. The CLI (``scenewatch channels``) and the web
pages call these; each validates its input and says what is wrong in words."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Settings
from notifier.channels import DeliveryError, Outgoing, SendResult, get_channel
from notifier.models import Channel, ChannelKind
from notifier.quiet import parse_clock, resume_channel
from notifier.signing import active_secrets, rotate_secret

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TEST_EVENT = "test.ping"


@dataclass(frozen=True)
class TestOutcome:
    """What a test event got: ok, the status code, latency and our error text."""

    ok: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None
    message_id: str


def channel_info(channel: Channel) -> dict[str, Any]:
    """A channel as plain data (no secrets)."""
    return {
        "id": channel.id, "owner_id": channel.owner_id, "kind": channel.kind, "target": channel.target,
        "cadence": channel.cadence, "verified": channel.verified, "paused": bool(channel.paused),
        "disabled_reason": channel.disabled_reason, "digest_hour": channel.digest_hour,
        "digest_weekday": None if channel.digest_weekday is None else WEEKDAYS[channel.digest_weekday],
        "quiet_start": channel.quiet_start, "quiet_end": channel.quiet_end,
        "rotating_until": channel.previous_secret_expires_at if channel.previous_secret else None,
    }


def list_channels(session: Session, kind: str | None = None) -> list[Channel]:
    """Every channel (of ``kind``), oldest first."""
    stmt = select(Channel).order_by(Channel.id)
    if kind:
        stmt = stmt.where(Channel.kind == kind)
    return list(session.scalars(stmt))


def load_channel(session: Session, channel_id: int) -> Channel:
    """The channel with ``channel_id``; LookupError when there is none."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise LookupError(f"no channel with id {channel_id}")
    return channel


def pause(channel: Channel) -> None:
    """Mute ``channel``: new and due notifications are held until it is resumed."""
    channel.paused = True


def resume(session: Session, channel: Channel, now: datetime | None = None) -> int:
    """Unmute ``channel``; returns how many held notifications became due."""
    return resume_channel(session, channel, now)


def parse_weekday(value: str | int | None) -> int | None:
    """0–6 or mon…sun (any case, 3+ letters) as 0 = Monday; None stays None."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for index, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and text[:3] == name:
            return index
    raise ValueError(f"weekday {value!r}: use 0-6 (0 = Monday) or mon, tue, … sun")


def set_digest(channel: Channel, hour: int | None, weekday: str | int | None = None,
               cadence: str | None = None) -> None:
    """Set when the channel's digest goes out (owner's local time); None keeps the default."""
    if channel.kind != ChannelKind.email.value:
        raise ValueError(f"channel {channel.id} is a {channel.kind} channel; digests are for email")
    if hour is not None and not 0 <= hour <= 23:
        raise ValueError(f"hour {hour}: use 0-23")
    if cadence is not None:
        if cadence not in ("immediate", "daily", "weekly"):
            raise ValueError(f"cadence {cadence!r}: use immediate, daily or weekly")
        channel.cadence = cadence
    channel.digest_hour = hour
    channel.digest_weekday = parse_weekday(weekday)


def set_quiet(channel: Channel, start: str | None, end: str | None) -> None:
    """Set quiet hours (``HH:MM`` to ``HH:MM``, owner's local time); both None clears them."""
    if (start is None) != (end is None):
        raise ValueError("quiet hours need both --start and --end (or neither, to clear them)")
    if start is not None and end is not None:
        begin, finish = parse_clock(start), parse_clock(end)
        if begin == finish:
            raise ValueError("quiet hours must not start and end at the same time")
        start, end = f"{begin:%H:%M}", f"{finish:%H:%M}"
    channel.quiet_start, channel.quiet_end = start, end


def rotate(channel: Channel, overlap: timedelta, now: datetime | None = None) -> str:
    """A new signing secret for a webhook; the old one keeps signing during ``overlap``."""
    if channel.kind != ChannelKind.webhook.value:
        raise ValueError(f"channel {channel.id} is an {channel.kind} channel; only webhooks have secrets")
    return rotate_secret(channel, now, overlap)


def send_test(channel: Channel, settings: Settings, now: datetime | None = None) -> TestOutcome:
    """POST ``{"type": "test.ping"}`` to a webhook channel, signed like real events.

    Not recorded as a notification; the outcome is returned for the caller to show.
    """
    from notifier.lifecycle import new_message_id

    if channel.kind != ChannelKind.webhook.value:
        raise ValueError(f"channel {channel.id} is an {channel.kind} channel; test events are for webhooks")
    now = now or datetime.now(UTC)
    outgoing = Outgoing(
        notification_id=None, message_id=new_message_id(), event_type=TEST_EVENT,
        payload={"channel": channel.id, "message": "test event from scenewatch"}, created_at=now,
        channel_id=channel.id, kind=channel.kind, target=channel.target,
        secrets=tuple(active_secrets(channel, now)),
    )
    try:
        result: SendResult = get_channel(channel.kind).send(outgoing, settings)
    except DeliveryError as exc:
        return TestOutcome(False, exc.status_code, exc.latency_ms, exc.message, outgoing.message_id)
    return TestOutcome(True, result.status_code, result.latency_ms, None, outgoing.message_id)
