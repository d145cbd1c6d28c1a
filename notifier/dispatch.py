"""Hand freshly committed notifications to delivery: in-process in the embedded
default (so `scenes run` has delivered before it returns), as Celery tasks otherwise."""
from __future__ import annotations

from collections.abc import Iterable


def dispatch_notifications(notification_ids: Iterable[int]) -> None:
    """Deliver (or enqueue delivery of) each notification; failures are retried by the
    delivery schedule, never raised to the caller."""
    from notifier.tasks import deliver_notification_task

    # Eager in the embedded default (task_always_eager): delivered before this returns.
    for notification_id in notification_ids:
        deliver_notification_task.delay(notification_id)
