"""Hand freshly committed notifications to delivery: in-process in the embedded
default (so `scenes run` has delivered before it returns), as Celery tasks otherwise."""
from __future__ import annotations

from collections.abc import Iterable


def dispatch_notifications(notification_ids: Iterable[int]) -> None:
    """Deliver (or enqueue delivery of) each notification; failures are retried by the
    delivery schedule, never raised to the caller."""
    from config.extensions import settings as bound_settings

    settings = bound_settings.get()
    if settings.embedded:  # in this process, with no broker (and no Flask app) needed
        from notifier.delivery import deliver_notification

        for notification_id in notification_ids:
            try:
                deliver_notification(notification_id, settings=settings)
            except LookupError:  # deleted meanwhile
                continue
        return
    from notifier.tasks import deliver_notification_task

    for notification_id in notification_ids:
        deliver_notification_task.delay(notification_id)
