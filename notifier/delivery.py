"""Delivery attempts: what to send for a claimed notification, the send itself, and
the loops that attempt one notification or every due one.

State changes (claim with a lease, hold, record, redeliver) are made by
:mod:`notifier.lifecycle`; this module decides what an attempt sends. The network call
happens outside any transaction, so no lock is held while a receiver is slow.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.extensions import db
from config.extensions import settings as bound_settings
from config.settings import Settings
from notifier import lifecycle
from notifier.channels import DeliveryError, EndpointGone, Outgoing, SendResult, get_channel
from notifier.lifecycle import DEAD, HELD, utcnow
from notifier.models import Channel, ChannelKind, Delivery, Notification
from notifier.retry import lease_seconds
from notifier.signing import active_secrets

log = logging.getLogger("scenewatch.delivery")


def _outgoing(session: Session, notification: Notification, channel: Channel, now: datetime) -> Outgoing:
    copies = 0
    if channel.kind == ChannelKind.email.value:  # only a mail's Message-ID depends on it
        copies = session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.notification_id == notification.id, Delivery.ok.is_(True))) or 0
    return Outgoing(
        notification_id=notification.id, message_id=notification.message_id,
        event_type=notification.event_type, payload=notification.payload,
        created_at=notification.created_at, channel_id=channel.id, kind=channel.kind,
        target=channel.target, locale=channel.locale or "zh", timezone=channel.timezone or "UTC",
        secrets=tuple(active_secrets(channel, now)) if channel.kind == ChannelKind.webhook.value else (),
        cadence=channel.cadence, copy=copies,
    )


def _not_sendable(notification: Any, channel: Channel, now: datetime) -> tuple[str, str | None, datetime | None] | None:
    """(state, log text, next attempt) when this notification must not be sent now, else None."""
    if channel.disabled_reason:
        return DEAD, f"not sent: channel disabled ({channel.disabled_reason})", None
    if channel.kind == ChannelKind.email.value and not channel.verified:
        return HELD, None, None  # waits for the address to be confirmed
    if channel.paused:
        return HELD, None, None  # released when the owner resumes
    if channel.quiet_start and channel.quiet_end:
        from notifier.quiet import quiet_until

        until = quiet_until(channel.quiet_start, channel.quiet_end, channel.timezone, now)
        if until is not None:  # keeps its state; due again when the window opens
            return notification.state, None, until
    return None


def prepare_attempt(session: Session, notification_id: int, now: datetime,
                    lease: int) -> tuple[int, Outgoing] | tuple[str, bool]:
    """Claim one notification's due attempt inside ``session``.

    Returns (attempt number, what to send), or (state, whether an attempt was used)
    when there is nothing to send: not due, taken by another worker, or held/dead
    because of its channel. Raises LookupError for an unknown id.
    """
    claimed = lifecycle.claim(session, [notification_id], now, lease)
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise LookupError(f"no notification with id {notification_id}")
    if not claimed:
        return notification.state, False
    return prepare_claimed(session, notification, claimed[0].attempts, now)


def prepare_claimed(session: Session, notification: Any, attempt: int, now: datetime,
                    channel: Channel | None = None) -> tuple[int, Outgoing] | tuple[str, bool]:
    """For a notification whose attempt this worker has claimed: what to send, or
    (state, True) when its channel holds or refuses it (recorded here).

    ``notification`` may be any row with the notification's columns when its
    ``channel`` is given."""
    notification_id = notification.id
    channel = channel if channel is not None else notification.channel
    blocked = _not_sendable(notification, channel, now)
    if blocked is not None:
        state, reason, until = blocked
        lifecycle.hold(session, notification_id, attempt, state, until, reason)
        return state, True
    return attempt, _outgoing(session, notification, channel, now)


def send_outgoing(outgoing: Outgoing, settings: Settings) -> tuple[SendResult | None, DeliveryError | None]:
    """Send once through the channel; a crash becomes a retryable failure, never an exception."""
    try:
        return get_channel(outgoing.kind).send(outgoing, settings), None
    except DeliveryError as exc:
        return None, exc
    except Exception as exc:  # noqa: BLE001 - a bug must still leave a visible, retried attempt
        log.exception("delivery of notification %s crashed", outgoing.notification_id)
        return None, DeliveryError(f"internal error: {type(exc).__name__}: {exc}", retryable=True)


def _attempt(notification_id: int, now: datetime, settings: Settings) -> tuple[str, bool]:
    """One attempt; returns (state afterwards, whether this call made the attempt)."""
    with db.session() as session:
        prepared = prepare_attempt(session, notification_id, now, lease_seconds(settings))
    if isinstance(prepared[1], bool):
        return str(prepared[0]), prepared[1]
    attempt, outgoing = prepared
    # The network call happens outside any transaction: no lock is held while we wait.
    result, failure = send_outgoing(outgoing, settings)
    with db.session() as session:
        (state,) = lifecycle.record(session, [(notification_id, int(attempt), result, failure)], now, settings)
    if isinstance(failure, EndpointGone):
        from notifier.owner_notice import tell_owner_endpoint_gone

        tell_owner_endpoint_gone(notification_id, settings)
    return state, True


def deliver_notification(notification_id: int, now: datetime | None = None, *,
                         settings: Settings | None = None) -> str:
    """Make the due attempt of one notification; returns its state afterwards.

    Not due, or claimed by another worker: nothing is sent and the current state is
    returned. Raises LookupError for an unknown id.
    """
    return _attempt(notification_id, now or utcnow(), bound_settings.resolve(settings))[0]


def due_notification_ids(now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Ids of notifications whose next attempt is due, oldest due first."""
    stmt = (select(Notification.id)
            .where(Notification.state.in_(lifecycle.ACTIVE), lifecycle.is_due(now or utcnow()))
            .order_by(Notification.next_attempt_at, Notification.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    with db.session() as session:
        return list(session.scalars(stmt))


def deliver_due(now: datetime | None = None, limit: int | None = None, *,
                settings: Settings | None = None) -> dict[str, int]:
    """Attempt every due notification once; returns counts by resulting state
    (plus ``due`` and ``skipped``: due but taken by another worker).

    With ``delivery_concurrency`` > 1 the batch is claimed, sent in parallel and
    recorded in chunks (:mod:`notifier.bulk`); the outcome is the same.
    """
    settings = bound_settings.resolve(settings)
    now = now or utcnow()
    ids = due_notification_ids(now, limit)
    if settings.delivery_concurrency > 1 and len(ids) > 1:
        from notifier.bulk import deliver_batch

        return {"due": len(ids), **deliver_batch(ids, now, settings)}
    counts: Counter[str] = Counter()
    for notification_id in ids:
        try:
            state, attempted = _attempt(notification_id, now, settings)
        except LookupError:  # deleted with its channel meanwhile
            counts["skipped"] += 1
            continue
        counts[state if attempted else "skipped"] += 1
    return {"due": len(ids), **counts}
