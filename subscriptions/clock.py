"""The clock: one APScheduler that ticks harvests, scenes, deliveries, digests, retention
and the nightly full run of on-change scenes.

``scenewatch serve`` runs it in a background thread in the embedded default;
in production ``scenewatch scheduler`` is the one process that owns it.
"""
from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

log = logging.getLogger("scenewatch.clock")
SCENE_TICK_SECONDS = 30
HARVEST_TICK_SECONDS = 15  # sources due on a cron minute start within 15 s of it
DELIVERY_TICK_SECONDS = 15
DIGEST_TICK_SECONDS = 120
RETENTION_HOUR = 3  # UTC


def _in_app(app: Flask, func: Any) -> Any:
    def job() -> None:
        with app.app_context():
            try:
                func()
            except Exception:  # noqa: BLE001 - a failing tick must not stop the clock
                log.exception("tick %s failed", getattr(func, "__name__", func))
    job.__name__ = getattr(func, "__name__", "job")
    return job


def build_clock(app: Flask, blocking: bool = False) -> BaseScheduler:
    """A scheduler with the scene and delivery ticks (not started)."""
    from notifier.tasks import deliver_due_task, send_due_digests_task
    from search.tasks import harvest_due_sources_task
    from subscriptions.tasks import (
        compact_history_task,
        recompute_on_change_task,
        run_due_scenes_task,
    )

    # .delay() queues on the broker, or runs in-process in the embedded default
    # (config/celery_app.py sets task_always_eager there).
    def harvests_tick() -> None:
        harvest_due_sources_task.delay()

    def scenes_tick() -> None:
        run_due_scenes_task.delay()

    def delivery_tick() -> None:
        deliver_due_task.delay()

    def digest_tick() -> None:
        send_due_digests_task.delay()

    def retention_tick() -> None:
        compact_history_task.delay()

    def recompute_tick() -> None:
        recompute_on_change_task.delay()

    # coalesce + max_instances=1: a slow tick is never run twice at once, and missed
    # ticks after a pause collapse into one.
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        job_defaults=defaults, timezone="UTC")
    scheduler.add_job(_in_app(app, harvests_tick), "interval", seconds=HARVEST_TICK_SECONDS,
                      id="harvests")
    scheduler.add_job(_in_app(app, scenes_tick), "interval", seconds=SCENE_TICK_SECONDS, id="scenes")
    scheduler.add_job(_in_app(app, delivery_tick), "interval", seconds=DELIVERY_TICK_SECONDS, id="deliveries")
    scheduler.add_job(_in_app(app, digest_tick), "interval", seconds=DIGEST_TICK_SECONDS, id="digests")
    # Daily, at a quiet hour: old diffs and delivery logs compacted to their counts.
    scheduler.add_job(_in_app(app, retention_tick), "cron", hour=RETENTION_HOUR, minute=17, id="retention")
    # Nightly safety net behind reverse matching (subscriptions.recompute).
    recompute_at = app.config["SCENEWATCH"].recompute_at
    if recompute_at is not None:
        scheduler.add_job(_in_app(app, recompute_tick), "cron", hour=recompute_at[0], minute=recompute_at[1],
                          id="recompute")
    return scheduler
