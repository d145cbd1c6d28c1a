"""Entry point for Celery workers: ``celery -A config.worker worker -Q harvest,scenes,delivery``.

Celery leaves logging to us (a ``setup_logging`` receiver): every line, Celery's own
included, goes through :func:`config.logging.configure_process_logging` — JSON lines
in production, each task's lines carrying its task id.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import celery.apps.worker
from celery.signals import setup_logging, worker_ready

from config.app import create_app
from config.logging import JsonFormatter, configure_process_logging
from config.settings import load_settings
from config.startup import refuse_unsafe_start

_settings = load_settings()
refuse_unsafe_start(_settings, "worker")
configure_process_logging(_settings)  # now: Celery warns (as root, …) before setup_logging
flask_app = create_app(_settings)
celery_app = flask_app.extensions["celery"]


@setup_logging.connect
def _logging(**_: Any) -> None:
    configure_process_logging(_settings)


@worker_ready.connect
def _ready(sender: Any = None, **_: Any) -> None:
    # What the start-up banner says, as a log line (run the worker with --quiet).
    queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values()) if sender else []
    logging.getLogger("scenewatch.worker").info(
        "worker ready", extra={"sw_hostname": getattr(sender, "hostname", None), "sw_queues": queues})


def _say_as_json(msg: str, f: TextIO | None = sys.__stderr__) -> None:
    """Celery's shutdown notices ("worker: Warm shutdown"), written as JSON lines.
    Celery writes them from its signal handlers with a bare os.write (no logging
    locks there), and so do we."""
    record = logging.LogRecord("celery.worker", logging.WARNING, __file__, 0, msg.strip(), None, None)
    try:
        os.write((f or sys.__stderr__ or sys.stderr).fileno(), (JsonFormatter().format(record) + "\n").encode())
    except (OSError, ValueError, AttributeError):
        pass  # a lost notice must not abort the shutdown


if _settings.production:
    celery.apps.worker.safe_say = _say_as_json


import notifier.tasks  # noqa: E402,F401  (register tasks)
import search.tasks  # noqa: E402,F401
import subscriptions.tasks  # noqa: E402,F401
