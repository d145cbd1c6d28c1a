"""Celery tasks for delivery: thin wrappers, the work is in delivery.py and digest.py.

Retries are not Celery retries: the schedule lives in the database (next_attempt_at),
so it survives restarts and a broker outage, and the delivery tick picks it up.
"""
from __future__ import annotations

import logging

from celery import shared_task

from config.extensions import settings as bound_settings
from notifier.delivery import deliver_due, deliver_notification, due_notification_ids
from notifier.digest import due_digest_channels, send_digest, send_due_digests

log = logging.getLogger("scenewatch.tasks")


@shared_task(name="notifier.tasks.deliver_notification_task")
def deliver_notification_task(notification_id: int) -> str:
    """Make the due attempt of one notification; returns its state."""
    try:
        return deliver_notification(notification_id)
    except LookupError:
        log.info("notification %s no longer exists", notification_id)
        return "missing"


@shared_task(name="notifier.tasks.deliver_due_task")
def deliver_due_task(limit: int | None = None) -> dict[str, int]:
    """Attempt every due notification: in-process when embedded, else one task each
    so slow endpoints do not hold up the rest."""
    if bound_settings.get().embedded:
        return deliver_due(limit=limit)
    ids = due_notification_ids(limit=limit)
    for notification_id in ids:
        deliver_notification_task.delay(notification_id)
    return {"queued": len(ids)}


@shared_task(name="notifier.tasks.send_digest_task")
def send_digest_task(channel_id: int) -> int:
    """Send one channel's digest; returns how many notifications it carried."""
    return send_digest(channel_id)


@shared_task(name="notifier.tasks.send_due_digests_task")
def send_due_digests_task() -> dict[str, int]:
    """Send every due digest (in-process when embedded, else one task per channel)."""
    if bound_settings.get().embedded:
        return send_due_digests()
    channels = due_digest_channels()
    for channel_id in channels:
        send_digest_task.delay(channel_id)
    return {"queued": len(channels)}
