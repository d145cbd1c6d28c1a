"""Delivery: notifications written with a run, attempts made, every attempt logged.

Life of a notification: ``pending`` → (attempt) → ``sent`` | ``retrying`` → … → ``dead``.
How notifications are written, held, released and redelivered is in
:mod:`notifier.notifications`; this module makes and records attempts.

Workers claim an attempt with one conditional UPDATE that pushes ``next_attempt_at``
forward by a lease, so two workers never make the same attempt; a worker that dies
mid-send leaves the attempt to be retried when the lease runs out (at-least-once,
and receivers dedupe on the unchanged webhook-id).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from config.extensions import db
from config.settings import Settings
from notifier.channels import DeliveryError, EndpointGone, Outgoing, SendResult, get_channel
from notifier.models import Channel, ChannelKind, Delivery, Notification, NotificationState
from notifier.notifications import utcnow
from notifier.retry import lease_seconds, next_delay
from notifier.signing import active_secrets

log = logging.getLogger("scenewatch.delivery")

ACTIVE = (NotificationState.pending.value, NotificationState.retrying.value)


def resolve_settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from config.app import current_settings

    return current_settings()


def _claim(session: Session, notification_id: int, now: datetime, lease: int) -> int | None:
    """Take the due attempt of one notification; returns its attempt number, or None
    when it is not due or another worker has it."""
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.state.in_(ACTIVE),
               or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now))
        .values(next_attempt_at=now + timedelta(seconds=lease), attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalar(select(Notification.attempts).where(Notification.id == notification_id))


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


def _finish(session: Session, notification_id: int, attempt: int, values: dict[str, Any]) -> bool:
    """Apply the outcome unless another worker has taken the notification meanwhile."""
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.attempts == attempt,
               Notification.state.in_(ACTIVE))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _not_sendable(session: Session, notification: Notification, channel: Channel,
                  now: datetime) -> tuple[str, str | None, datetime | None] | None:
    """(state, log text, next attempt) when this notification must not be sent now, else None."""
    if channel.disabled_reason:
        return NotificationState.dead.value, f"not sent: channel disabled ({channel.disabled_reason})", None
    if channel.kind == ChannelKind.email.value and not channel.verified:
        return NotificationState.held.value, None, None  # waits for the address to be confirmed
    if channel.paused:
        return NotificationState.held.value, None, None  # released when the owner resumes
    if channel.quiet_start and channel.quiet_end:
        from notifier.quiet import quiet_until
        from subscriptions.models import User

        tz_name = session.scalar(select(User.timezone).where(User.id == channel.owner_id))
        until = quiet_until(channel.quiet_start, channel.quiet_end, tz_name, now)
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
    attempt = _claim(session, notification_id, now, lease)
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise LookupError(f"no notification with id {notification_id}")
    if attempt is None:
        return notification.state, False
    return prepare_claimed(session, notification, attempt, now)


def prepare_claimed(session: Session, notification: Notification, attempt: int, now: datetime,
                    channel: Channel | None = None) -> tuple[int, Outgoing] | tuple[str, bool]:
    """For a notification whose attempt this worker has claimed: what to send, or
    (state, True) when its channel holds or refuses it (recorded here).

    ``notification`` may be any row with the notification's columns when its
    ``channel`` is given."""
    notification_id = notification.id
    channel = channel if channel is not None else notification.channel
    blocked = _not_sendable(session, notification, channel, now)
    if blocked is not None:
        state, text, next_at = blocked
        values: dict[str, Any] = {"state": state, "next_attempt_at": next_at}
        if text is None:
            values["attempts"] = attempt - 1  # a hold is not an attempt
        else:
            session.add(Delivery(notification_id=notification_id, attempt=attempt, attempted_at=now,
                                 ok=False, error=text))
        _finish(session, notification_id, attempt, values)
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
        state = record_attempt(session, notification_id, int(attempt), now, result, failure, settings)
    if isinstance(failure, EndpointGone):
        from notifier.owner_notice import tell_owner_endpoint_gone

        tell_owner_endpoint_gone(notification_id, settings)
    return state, True


def _outcome(notification_id: int, attempt: int, now: datetime, result: SendResult | None,
             failure: DeliveryError | None, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Delivery row values, notification values) for one attempt's outcome."""
    row: dict[str, Any] = {"notification_id": notification_id, "attempt": attempt, "attempted_at": now,
                           "ok": False, "status_code": None, "latency_ms": None, "error": None,
                           "next_attempt_at": None}
    if failure is None:
        assert result is not None
        row.update(ok=True, status_code=result.status_code, latency_ms=result.latency_ms)
        return row, {"state": NotificationState.sent.value, "next_attempt_at": None, "sent_at": now}
    row.update(status_code=failure.status_code, latency_ms=failure.latency_ms, error=failure.message)
    delay = next_delay(attempt, settings.webhook_retry_schedule, failure.retry_after) \
        if failure.retryable else None
    if delay is None:
        if failure.retryable:
            row["error"] = f"{failure.message}; out of retries after {attempt} attempts"
        return row, {"state": NotificationState.dead.value, "next_attempt_at": None}
    row["next_attempt_at"] = now + timedelta(seconds=delay)
    return row, {"state": NotificationState.retrying.value, "next_attempt_at": row["next_attempt_at"]}


def _gone_reason(now: datetime) -> str:
    return f"endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC"


def record_attempt(session: Session, notification_id: int, attempt: int, now: datetime,
            result: SendResult | None, failure: DeliveryError | None, settings: Settings) -> str:
    """Write the Delivery row and move the notification to its next state."""
    row, values = _outcome(notification_id, attempt, now, result, failure, settings)
    if isinstance(failure, EndpointGone):
        _disable_channel(session, notification_id, _gone_reason(now))
    session.add(Delivery(**row))
    if not _finish(session, notification_id, attempt, values):
        # Our lease ran out and another worker took over: log the attempt, keep its state.
        log.warning("notification %s attempt %s finished after its lease; state left alone",
                    notification_id, attempt)
        state = session.scalar(select(Notification.state).where(Notification.id == notification_id))
        return str(state)
    log.info("notification %s attempt %s: %s", notification_id, attempt, values["state"],
             extra={"sw_notification": notification_id, "sw_status": row["status_code"]})
    return str(values["state"])


def record_outcomes(session: Session, outcomes: Sequence[tuple[int, int, SendResult | None, DeliveryError | None]],
                    now: datetime, settings: Settings) -> list[str]:
    """:func:`record_attempt` for many attempts at once: one multi-row INSERT of the
    Delivery rows and one conditional UPDATE per (resulting state, attempt number).
    Returns the state of each notification afterwards, in order."""
    if not outcomes:
        return []
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    gone: list[int] = []
    for notification_id, attempt, result, failure in outcomes:
        row, values = _outcome(notification_id, attempt, now, result, failure, settings)
        rows.append(row)
        groups.setdefault((values["state"], attempt), {})[notification_id] = values
        if isinstance(failure, EndpointGone):
            gone.append(notification_id)
    if gone:
        channel_ids = select(Notification.channel_id).where(Notification.id.in_(gone)).scalar_subquery()
        session.execute(update(Channel).where(Channel.id.in_(channel_ids))
                        .values(disabled_reason=_gone_reason(now))
                        .execution_options(synchronize_session=False))
    session.execute(insert(Delivery.__table__), rows)  # one executemany, no ORM bookkeeping
    finished: dict[int, str] = {}
    for (state, attempt), members in groups.items():
        values: dict[str, Any] = {"state": state}
        if state == NotificationState.sent.value:
            values.update(next_attempt_at=None, sent_at=now)
        elif state == NotificationState.retrying.value:  # each has its own jittered time
            values["next_attempt_at"] = case(
                {nid: literal(v["next_attempt_at"], Notification.next_attempt_at.type)
                 for nid, v in members.items()}, value=Notification.id)
        else:
            values["next_attempt_at"] = None
        won = session.execute(
            update(Notification)
            .where(Notification.id.in_(list(members)), Notification.attempts == attempt,
                   Notification.state.in_(ACTIVE))
            .values(**values)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()
        finished.update((nid, state) for nid in won)
    states: list[str] = []
    for (notification_id, attempt, _, _), row in zip(outcomes, rows):
        state = finished.get(notification_id)
        if state is None:
            # Our lease ran out and another worker took over: log the attempt, keep its state.
            log.warning("notification %s attempt %s finished after its lease; state left alone",
                        notification_id, attempt)
            state = str(session.scalar(select(Notification.state).where(Notification.id == notification_id)))
        elif log.isEnabledFor(logging.INFO):
            log.info("notification %s attempt %s: %s", notification_id, attempt, state,
                     extra={"sw_notification": notification_id, "sw_status": row["status_code"]})
        states.append(state)
    return states


def _disable_channel(session: Session, notification_id: int, reason: str) -> None:
    channel_id = session.scalar(select(Notification.channel_id).where(Notification.id == notification_id))
    session.execute(update(Channel).where(Channel.id == channel_id).values(disabled_reason=reason)
                    .execution_options(synchronize_session=False))


def deliver_notification(notification_id: int, now: datetime | None = None, *,
                         settings: Settings | None = None) -> str:
    """Make the due attempt of one notification; returns its state afterwards.

    Not due, or claimed by another worker: nothing is sent and the current state is
    returned. Raises LookupError for an unknown id.
    """
    return _attempt(notification_id, now or utcnow(), resolve_settings(settings))[0]


def due_notification_ids(now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Ids of notifications whose next attempt is due, oldest due first."""
    now = now or utcnow()
    stmt = (select(Notification.id)
            .where(Notification.state.in_(ACTIVE),
                   or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now))
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
    settings = resolve_settings(settings)
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


def deliver_pending(notification_ids: Iterable[int], *, settings: Settings | None = None) -> dict[int, str]:
    """Deliver freshly committed notifications now, in this process; id → state."""
    settings = resolve_settings(settings)
    return {nid: deliver_notification(nid, settings=settings) for nid in notification_ids}
