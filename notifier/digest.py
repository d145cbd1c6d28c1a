"""Digests: one email per channel per cadence, gathering every held notification.

The per-channel :class:`DigestCursor` is the high-water mark: a digest includes the
held notifications with ``id > last_notification_id`` and the cursor moves only after
the email went out, so a failed or interrupted send is retried with the same content
and nothing is lost or sent twice.

A daily digest goes out at the channel's ``digest_hour`` (default 08:00) in the owner's
time zone, a weekly one on its ``digest_weekday`` (default Monday) at that hour;
notifications created after the latest such slot wait for the next. A paused channel
gets no digest until it is resumed.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config.extensions import db
from config.extensions import settings as bound_settings
from config.settings import Settings
from notifier import lifecycle
from notifier.channels import DIGEST_EVENT, Outgoing
from notifier.delivery import send_outgoing, utcnow
from notifier.lifecycle import DIGEST_CADENCES, HELD
from notifier.models import Channel, ChannelKind, DigestCursor, Notification
from notifier.retry import lease_seconds

log = logging.getLogger("scenewatch.digest")

SEND_HOUR = 8
WEEKLY_DAY = 0  # Monday
MAX_PER_DIGEST = 200  # more than this waits for the next digest (the email stays readable)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def latest_slot(cadence: str, tz_name: str | None, now: datetime, send_hour: int = SEND_HOUR,
                weekday: int = WEEKLY_DAY) -> datetime:
    """The most recent digest time at or before ``now`` (UTC) for ``cadence`` in ``tz_name``
    (``weekday``: 0 = Monday, weekly digests only)."""
    zone = _zone(tz_name)
    local = now.astimezone(zone)
    slot = datetime.combine(local.date(), time(send_hour), tzinfo=zone)
    if slot > local:
        slot -= timedelta(days=1)
    if cadence == "weekly":
        slot -= timedelta(days=(slot.weekday() - weekday) % 7)
    # Re-anchor on the wall clock so a DST change between the two dates keeps the hour.
    slot = datetime.combine(slot.date(), time(send_hour), tzinfo=zone)
    return slot.astimezone(UTC)


def _cursor(session: Session, channel_id: int) -> DigestCursor:
    cursor = session.get(DigestCursor, channel_id)
    if cursor is None:
        cursor = DigestCursor(channel_id=channel_id, last_notification_id=0)
        session.add(cursor)
        session.flush()
    return cursor


def due_digest_channels(now: datetime | None = None, send_hour: int = SEND_HOUR) -> list[int]:
    """Digest channels whose oldest unsent notification predates their latest slot
    (each channel's own hour and weekday, ``send_hour`` where it has none)."""
    now = now or utcnow()
    due: list[int] = []
    with db.session() as session:
        rows = session.execute(
            select(Channel.id, Channel.cadence, Channel.timezone,
                   func.coalesce(DigestCursor.last_notification_id, 0), Channel.digest_hour,
                   Channel.digest_weekday)
            .outerjoin(DigestCursor, DigestCursor.channel_id == Channel.id)
            .where(Channel.kind == ChannelKind.email.value, Channel.cadence.in_(DIGEST_CADENCES),
                   Channel.verified.is_(True), Channel.disabled_reason.is_(None),
                   Channel.paused.is_not(True))
        ).all()
        for channel_id, cadence, tz_name, last_id, hour, weekday in rows:
            oldest = session.scalar(
                select(func.min(Notification.created_at))
                .where(Notification.channel_id == channel_id, Notification.state == HELD,
                       Notification.id > last_id)
            )
            slot = latest_slot(cadence, tz_name, now, send_hour if hour is None else hour,
                               WEEKLY_DAY if weekday is None else weekday)
            if oldest is not None and oldest <= slot:
                due.append(channel_id)
    return due


def _claim_batch(session: Session, channel: Channel, cursor: DigestCursor, now: datetime,
                 lease: int) -> list[Notification]:
    """Take this channel's unsent held notifications (a lease on next_attempt_at)."""
    ids = lifecycle.held_ids(session, channel.id, cursor.last_notification_id, now, MAX_PER_DIGEST)
    if not ids or not lifecycle.claim_held(session, ids, now, lease):
        return []  # nothing, or another worker is sending this digest; the caller rolls back
    return list(session.scalars(select(Notification).where(Notification.id.in_(ids))
                                .order_by(Notification.id)))


def send_digest(channel_id: int, now: datetime | None = None, *, settings: Settings | None = None) -> int:
    """Send one digest email for ``channel_id``; returns how many notifications it carried.

    0 when there is nothing to send, the channel cannot receive mail (unverified,
    disabled, not email) or another worker holds the batch. On failure the
    notifications stay held with a failed Delivery row each and a back-off, and the
    cursor does not move.
    """
    settings = bound_settings.resolve(settings)
    now = now or utcnow()
    with db.session() as session:
        channel = session.get(Channel, channel_id)
        if (channel is None or channel.kind != ChannelKind.email.value or not channel.verified
                or channel.disabled_reason or channel.paused):
            return 0
        cursor = _cursor(session, channel_id)
        batch = _claim_batch(session, channel, cursor, now, lease_seconds(settings))
        if not batch:
            session.rollback()
            return 0
        ids = [n.id for n in batch]
        previous_mark = cursor.last_notification_id
        outgoing = Outgoing(
            notification_id=None,
            # Stable for the same batch: a retried digest keeps its Message-ID.
            message_id=f"dig_{channel_id}_{ids[0]}_{ids[-1]}",
            event_type=DIGEST_EVENT, payload={"documents": [n.payload for n in batch]},
            created_at=now, channel_id=channel_id, kind=channel.kind, target=channel.target,
            locale=channel.locale or "zh", timezone=channel.timezone or "UTC", cadence=channel.cadence,
        )
        attempts = {n.id: n.attempts + 1 for n in batch}
    result, failure = send_outgoing(outgoing, settings)
    with db.session() as session:
        if lifecycle.record_digest(session, attempts, now, result, failure, settings):
            # Stamped only now that the email is out: the high-water mark never skips mail.
            session.execute(update(DigestCursor).where(
                DigestCursor.channel_id == channel_id, DigestCursor.last_notification_id == previous_mark,
            ).values(last_notification_id=ids[-1], sent_at=now).execution_options(synchronize_session=False))
            log.info("digest for channel %s sent with %s notifications", channel_id, len(ids))
            return len(ids)
        log.warning("digest for channel %s failed: %s", channel_id, failure.message if failure else "")
        return 0


def send_due_digests(now: datetime | None = None, *, settings: Settings | None = None) -> dict[str, int]:
    """Send every digest that is due; returns counts of channels and notifications."""
    settings = bound_settings.resolve(settings)
    now = now or utcnow()
    channels = due_digest_channels(now)
    sent = [send_digest(cid, now, settings=settings) for cid in channels]
    return {"channels": len(channels), "digests": sum(1 for n in sent if n), "notifications": sum(sent)}
