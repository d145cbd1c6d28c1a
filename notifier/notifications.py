"""Notifications outside their attempts: written with a run, held, released, redelivered.

A notification starts ``pending`` (due now), or ``held`` for a digest, an unconfirmed
address or a paused channel. ``redeliver`` puts a dead or sent one back to pending with
the same message id; ``release_held`` makes a confirmed address's held ones due.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from config.extensions import db
from notifier.models import Channel, ChannelKind, Notification, NotificationState

DIGEST_CADENCES = ("daily", "weekly")
EVENT_TYPE = "scene.changed"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
        return NotificationState.held.value
    if channel.paused:  # muted by its owner: released on resume
        return NotificationState.held.value
    return NotificationState.pending.value


def create_notifications(session: Session, scene: Any, run: Any, document: dict[str, Any],
                         now: datetime | None = None) -> list[Notification]:
    """One notification per enabled channel of ``scene`` for ``run``'s diff ``document``.

    Call inside the run's transaction so a run and its notifications commit together.
    An empty diff only goes to channels that asked for empty runs.
    """
    now = now or utcnow()
    empty = is_empty_diff(document)
    created: list[Notification] = []
    for channel in scene.channels:
        state = initial_state(channel)
        if state is None or (empty and not channel.send_when_empty):
            continue
        notification = Notification(
            message_id=new_message_id(), channel_id=channel.id, scene_id=scene.id, run_id=run.id,
            event_type=EVENT_TYPE, payload=document, state=state, attempts=0,
            next_attempt_at=now if state == NotificationState.pending.value else None, created_at=now,
        )
        session.add(notification)
        created.append(notification)
    session.flush()
    return created


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
        if notification.state == NotificationState.held.value:
            raise ValueError(f"notification {notification_id} is held for a digest or an unconfirmed "
                             "address; it is sent with the digest")
        if notification.state in (NotificationState.dead.value, NotificationState.sent.value):
            notification.state = NotificationState.pending.value
            notification.attempts = 0  # the retry schedule starts over
        notification.next_attempt_at = now
        return notification.state


def release_held(session: Session, channel_id: int, now: datetime | None = None) -> int:
    """After an address is confirmed: its held notifications become due (immediate
    cadence only; digest channels keep them for the digest). Returns how many."""
    channel = session.get(Channel, channel_id)
    if channel is None or not channel.verified or channel.paused or channel.cadence in DIGEST_CADENCES:
        return 0
    result = session.execute(
        update(Notification)
        .where(Notification.channel_id == channel_id, Notification.state == NotificationState.held.value)
        .values(state=NotificationState.pending.value, next_attempt_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
