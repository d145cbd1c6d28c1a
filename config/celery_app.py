"""Celery bound to the Flask app (the ``celery_init_app`` pattern).

With no ``SCENEWATCH_BROKER_URL`` the same task functions run in-process
(``task_always_eager``), so the embedded default needs no broker.
"""
from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app whose tasks run inside ``app``'s context."""
    settings = app.config["SCENEWATCH"]

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(
        {
            "broker_url": settings.broker_url or "memory://",
            "task_always_eager": settings.embedded,
            "task_eager_propagates": True,
            "task_ignore_result": True,
            # A task is acknowledged only after it finishes: a worker killed mid-send
            # leaves it on the queue for another worker (at-least-once).
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "task_default_queue": "scenes",
            "task_routes": {
                "search.tasks.*": {"queue": "harvest"},
                "subscriptions.tasks.*": {"queue": "scenes"},
                "notifier.tasks.*": {"queue": "delivery"},
            },
            "broker_connection_retry_on_startup": True,
        }
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
