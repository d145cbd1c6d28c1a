"""Every change of a notification's state, and every delivery log row, in one module.

::

    create ─▶ pending ──claim (lease)──▶ in flight ──record──▶ sent | retrying | dead
          └─▶ held ──release──▶ pending        retrying ──claim──▶ …
    pending/retrying ──hold──▶ held (paused channel, unconfirmed address) or later (quiet hours)
    dead | sent ──redeliver──▶ pending (same message id, fresh retry schedule)
    held (digest) ──claim(held)──▶ in flight ──record_digest──▶ sent | held with a back-off

A claim is one conditional ``UPDATE … RETURNING`` that pushes ``next_attempt_at``
forward by a lease, so two workers never make the same attempt. A worker that dies
mid-send leaves its claim to run out; the next claim logs the cut-off attempt as
``interrupted`` (it may have reached the receiver, and it counts as a try) and sends
again with the same message id. Delivery (:mod:`notifier.delivery`, :mod:`notifier.bulk`)
and digests (:mod:`notifier.digest`) call these functions; nothing else writes
``Notification.state``.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, case, delete, insert, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session

from config.extensions import db
from config.settings import Settings
from notifier.channels import DeliveryError, EndpointGone, SendResult
from notifier.models import Channel, ChannelKind, Delivery, Notification, NotificationState
from notifier.retry import next_delay

log = logging.getLogger("scenewatch.delivery")

PENDING, RETRYING = NotificationState.pending.value, NotificationState.retrying.value
SENT, DEAD, HELD = NotificationState.sent.value, NotificationState.dead.value, NotificationState.held.value
ACTIVE = (PENDING, RETRYING)
DIGEST_CADENCES = ("daily", "weekly")
EVENT_TYPE = "scene.changed"
INTERRUPTED = "interrupted: no outcome was recorded before the lease ran out (the worker stopped mid-send)"

# (notification id, attempt number, what the send returned, or why it failed)
Outcome = tuple[int, int, SendResult | None, DeliveryError | None]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_message_id() -> str:
    """A fresh ``msg_<uuid4 hex>``: the webhook-id of one notification, forever."""
    return f"msg_{uuid.uuid4().hex}"


def is_empty_diff(document: dict[str, Any]) -> bool:
    """True when the document reports no added, removed, changed or moved dataset."""
    counts = document.get("counts") or {}
    return not any(counts.get(name) or document.get(name) for name in ("added", "removed", "changed", "moved"))


def initial_state(channel: Channel) -> str | None:
    """Where a new notification for ``channel`` starts, or None to write none at all."""
    if channel.disabled_reason:
        return None
    if channel.kind == ChannelKind.email.value and (not channel.verified or channel.cadence in DIGEST_CADENCES):
        # Unverified: nothing but the confirmation mail may go there. Digest: wait for it.
        return HELD
    if channel.paused:  # muted by its owner: released on resume
        return HELD
    return PENDING


# -- create ---------------------------------------------------------------------------


def create_notifications(session: Session, scene: Any, run: Any, document: dict[str, Any],
                         now: datetime | None = None) -> list[Notification]:
    """One notification per enabled channel of ``scene`` for ``run``'s diff ``document``.

    Call inside the run's transaction so a run and its notifications commit together.
    An empty diff only goes to channels that asked for empty runs.
    """
    created = new_notifications(scene, run, document, now)
    session.add_all(created)
    session.flush()
    return created


def new_notifications(scene: Any, run: Any, document: dict[str, Any],
                      now: datetime | None = None) -> list[Notification]:
    """The notifications :func:`create_notifications` writes, not yet added to a
    session (a batch of runs adds them all and flushes once)."""
    now = now or utcnow()
    empty = is_empty_diff(document)
    created: list[Notification] = []
    for channel in scene.channels:
        state = initial_state(channel)
        if state is None or (empty and not channel.send_when_empty):
            continue
        created.append(Notification(
            message_id=new_message_id(), channel_id=channel.id, scene_id=scene.id, run_id=run.id,
            event_type=EVENT_TYPE, payload=document, state=state, attempts=0,
            next_attempt_at=now if state == PENDING else None, created_at=now,
        ))
    return created


# -- claim ----------------------------------------------------------------------------


def is_due(now: datetime) -> Any:
    """The condition of a notification whose next attempt is due at ``now``."""
    return or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now)


def claim(session: Session, ids: Sequence[int], now: datetime, lease: int) -> list[Row[Any]]:
    """Take the due attempt of each of ``ids`` (pending or retrying) for ``lease`` seconds.

    One ``UPDATE … RETURNING``: exactly the rows this worker won come back, with what
    sending them needs (id, attempts — the attempt number —, channel_id, state,
    message_id, event_type, payload, created_at). An earlier attempt that never got an
    outcome (its worker died) is logged as interrupted here."""
    if not ids:
        return []
    claimed = session.execute(
        update(Notification)
        .where(Notification.id.in_(list(ids)), Notification.state.in_(ACTIVE), is_due(now))
        .values(next_attempt_at=now + timedelta(seconds=lease), attempts=Notification.attempts + 1)
        .returning(Notification.id, Notification.attempts, Notification.channel_id, Notification.state,
                   Notification.message_id, Notification.event_type, Notification.payload,
                   Notification.created_at)
        .execution_options(synchronize_session=False)
    ).all()
    _log_interrupted(session, [(row.id, row.attempts - 1) for row in claimed if row.attempts > 1], now)
    return sorted(claimed, key=lambda row: row.id)


def _log_interrupted(session: Session, previous: list[tuple[int, int]], now: datetime) -> None:
    """An interrupted row for each (notification, attempt) that has no Delivery row."""
    if not previous:
        return
    logged = {(nid, attempt) for nid, attempt in session.execute(
        select(Delivery.notification_id, Delivery.attempt)
        .where(tuple_(Delivery.notification_id, Delivery.attempt).in_(previous)))}
    lost = [pair for pair in previous if pair not in logged]
    if lost:
        session.execute(insert(Delivery.__table__), [
            {"notification_id": nid, "attempt": attempt, "attempted_at": now, "ok": False,
             "status_code": None, "latency_ms": None, "error": INTERRUPTED, "next_attempt_at": now}
            for nid, attempt in lost])
        log.warning("%s attempt(s) interrupted by a stopped worker, sent again: %s", len(lost), lost)


def claim_held(session: Session, ids: Sequence[int], now: datetime, lease: int) -> bool:
    """Take held notifications for a digest (all of ``ids`` or none): True when this
    worker has them for ``lease`` seconds."""
    claimed = session.execute(
        update(Notification)
        .where(Notification.id.in_(list(ids)), Notification.state == HELD, is_due(now))
        .values(next_attempt_at=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == len(ids)  # type: ignore[attr-defined]


# -- hold and release -----------------------------------------------------------------


def hold(session: Session, notification_id: int, attempt: int, state: str,
         until: datetime | None = None, reason: str | None = None) -> bool:
    """Set a claimed notification aside instead of sending it: ``held`` (paused channel,
    unconfirmed address), its current state until ``until`` (quiet hours) — neither is
    an attempt — or ``dead`` with ``reason`` logged as the attempt (disabled channel)."""
    values: dict[str, Any] = {"state": state, "next_attempt_at": until}
    if reason is None:
        values["attempts"] = attempt - 1  # a hold is not an attempt
    else:
        session.add(Delivery(notification_id=notification_id, attempt=attempt, attempted_at=utcnow(),
                             ok=False, error=reason))
    return _finish(session, notification_id, attempt, values)


def release(session: Session, channel: Channel, now: datetime | None = None) -> int:
    """The channel's held notifications become due now, when it can receive them one
    by one (verified, not paused, immediate cadence: digest channels keep them for the
    digest). Returns how many."""
    if not channel.verified or channel.paused or channel.cadence in DIGEST_CADENCES:
        return 0
    result = session.execute(
        update(Notification)
        .where(Notification.channel_id == channel.id, Notification.state == HELD)
        .values(state=PENDING, next_attempt_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def redeliver(notification_id: int, now: datetime | None = None) -> str:
    """Queue a notification to be sent again with the same message id.

    dead or sent → pending with a fresh retry schedule; pending/retrying → due now.
    Raises LookupError for an unknown id, ValueError for one held for a digest.
    """
    now = now or utcnow()
    with db.session() as session:
        notification = session.get(Notification, notification_id)
        if notification is None:
            raise LookupError(f"no notification with id {notification_id}")
        if notification.state == HELD:
            raise ValueError(f"notification {notification_id} is held for a digest or an unconfirmed "
                             "address; it is sent with the digest")
        if notification.state in (DEAD, SENT):
            notification.state = PENDING
            notification.attempts = 0  # the retry schedule starts over
        notification.next_attempt_at = now
        return notification.state


# -- record ---------------------------------------------------------------------------


def _finish(session: Session, notification_id: int, attempt: int, values: dict[str, Any]) -> bool:
    """Apply ``values`` unless another worker has taken the notification meanwhile."""
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.attempts == attempt,
               Notification.state.in_(ACTIVE))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def _outcome(outcome: Outcome, now: datetime, settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Delivery row values, notification values) for one attempt's outcome."""
    notification_id, attempt, result, failure = outcome
    row: dict[str, Any] = {"notification_id": notification_id, "attempt": attempt, "attempted_at": now,
                           "ok": False, "status_code": None, "latency_ms": None, "error": None,
                           "next_attempt_at": None}
    if failure is None:
        assert result is not None
        row.update(ok=True, status_code=result.status_code, latency_ms=result.latency_ms)
        return row, {"state": SENT, "next_attempt_at": None, "sent_at": now}
    row.update(status_code=failure.status_code, latency_ms=failure.latency_ms, error=failure.message)
    delay = next_delay(attempt, settings.webhook_retry_schedule, failure.retry_after) \
        if failure.retryable else None
    if delay is None:
        if failure.retryable:
            row["error"] = f"{failure.message}; out of retries after {attempt} attempts"
        return row, {"state": DEAD, "next_attempt_at": None}
    row["next_attempt_at"] = now + timedelta(seconds=delay)
    return row, {"state": RETRYING, "next_attempt_at": row["next_attempt_at"]}


def gone_reason(now: datetime) -> str:
    """Why a channel was disabled by a 410 answer."""
    return f"endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC"


def record(session: Session, outcomes: Sequence[Outcome], now: datetime, settings: Settings) -> list[str]:
    """Log each attempt (one multi-row INSERT of Delivery rows) and move each
    notification to its next state (one conditional UPDATE per resulting state and
    attempt number); a 410 disables the channel. Returns each notification's state
    afterwards, in order. An attempt finished after its lease ran out is logged, and
    the state left to the worker that took over."""
    if not outcomes:
        return []
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    gone: list[int] = []
    for outcome in outcomes:
        row, values = _outcome(outcome, now, settings)
        rows.append(row)
        groups.setdefault((values["state"], outcome[1]), {})[outcome[0]] = values
        if isinstance(outcome[3], EndpointGone):
            gone.append(outcome[0])
    if gone:
        channel_ids = select(Notification.channel_id).where(Notification.id.in_(gone)).scalar_subquery()
        session.execute(update(Channel).where(Channel.id.in_(channel_ids))
                        .values(disabled_reason=gone_reason(now))
                        .execution_options(synchronize_session=False))
    # A late outcome replaces the interrupted row another worker wrote for this attempt.
    session.execute(delete(Delivery).where(
        tuple_(Delivery.notification_id, Delivery.attempt).in_([(o[0], o[1]) for o in outcomes]),
        Delivery.error == INTERRUPTED).execution_options(synchronize_session=False))
    session.execute(insert(Delivery.__table__), rows)  # one executemany, no ORM bookkeeping
    finished: dict[int, str] = {}
    for (target, attempt), members in groups.items():
        changes: dict[str, Any] = {"state": target}
        if target == SENT:
            changes.update(next_attempt_at=None, sent_at=now)
        elif target == RETRYING:  # each has its own jittered time
            changes["next_attempt_at"] = case(
                {nid: literal(v["next_attempt_at"], Notification.next_attempt_at.type)
                 for nid, v in members.items()}, value=Notification.id)
        else:
            changes["next_attempt_at"] = None
        won = session.execute(
            update(Notification)
            .where(Notification.id.in_(list(members)), Notification.attempts == attempt,
                   Notification.state.in_(ACTIVE))
            .values(**changes)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()
        finished.update((nid, target) for nid in won)
    states: list[str] = []
    for (notification_id, attempt, _, _), row in zip(outcomes, rows, strict=True):
        state = finished.get(notification_id)
        if state is None:
            log.warning("notification %s attempt %s finished after its lease; state left alone",
                        notification_id, attempt)
            state = str(session.scalar(select(Notification.state).where(Notification.id == notification_id)))
        elif log.isEnabledFor(logging.INFO):
            log.info("notification %s attempt %s: %s", notification_id, attempt, state,
                     extra={"sw_notification": notification_id, "sw_status": row["status_code"]})
        states.append(state)
    return states


def record_digest(session: Session, attempts: dict[int, int], now: datetime, result: SendResult | None,
                  failure: DeliveryError | None, settings: Settings) -> bool:
    """Log one digest send for each notification it carried (``attempts``: id →
    attempt number): sent, or still held with a back-off. True when sent."""
    ids = list(attempts)
    session.execute(insert(Delivery.__table__), [
        {"notification_id": nid, "attempt": attempt, "attempted_at": now, "ok": failure is None,
         "status_code": result.status_code if result else failure.status_code if failure else None,
         "latency_ms": result.latency_ms if result else failure.latency_ms if failure else None,
         "error": None if failure is None else f"digest not sent: {failure.message}",
         "next_attempt_at": None}
        for nid, attempt in attempts.items()])
    if failure is None:
        session.execute(update(Notification).where(Notification.id.in_(ids)).values(
            state=SENT, sent_at=now, next_attempt_at=None, attempts=Notification.attempts + 1,
        ).execution_options(synchronize_session=False))
        return True
    steps = settings.webhook_retry_schedule or (300,)
    delay = next_delay(min(max(attempts.values()), len(steps)), steps, failure.retry_after) or 0.0
    session.execute(update(Notification).where(Notification.id.in_(ids)).values(
        next_attempt_at=now + timedelta(seconds=delay), attempts=Notification.attempts + 1,
    ).execution_options(synchronize_session=False))
    return False


def held_ids(session: Session, channel_id: int, after_id: int, now: datetime, limit: int) -> list[int]:
    """The channel's held notifications past ``after_id`` that no worker has claimed."""
    return list(session.scalars(
        select(Notification.id)
        .where(Notification.channel_id == channel_id, Notification.state == HELD,
               Notification.id > after_id, is_due(now))
        .order_by(Notification.id).limit(limit)))
