"""Logging: readable lines in development, one JSON object per line in production.

Every process logs through :class:`JsonFormatter` in production: the app's own
``scenewatch.*`` loggers (:func:`configure_logging`), and, in the service processes,
everything else on the root logger too (:func:`configure_process_logging`: Celery,
APScheduler, SQLAlchemy warnings). gunicorn's error and access logs use the same
formatter through :mod:`config.gunicorn_logging`. A line written while a web request
runs carries its ``request_id``; one written inside a Celery task, ``task_id``/``task``.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from config.settings import Settings

if TYPE_CHECKING:
    from flask import Flask

_PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (for log shippers)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context())
        for key, value in record.__dict__.items():
            if key.startswith("sw_"):  # structured extras: logger.info(..., extra={"sw_scene": 3})
                entry[key[3:]] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _context() -> dict[str, str]:
    """The request or task a line was written in."""
    out: dict[str, str] = {}
    from config.request_id import current_request_id

    request_id = current_request_id()
    if request_id:
        out["request_id"] = request_id
    from celery._state import get_current_task

    task = get_current_task()
    if task is not None and task.request.id:
        out["task_id"], out["task"] = task.request.id, task.name
    return out


def formatter_for(settings: Settings) -> logging.Formatter:
    """JSON in production, a readable line in development."""
    return JsonFormatter() if settings.production else logging.Formatter(_PLAIN)


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the ``scenewatch`` root logger."""
    root = logging.getLogger("scenewatch")
    if getattr(root, "_scenewatch_configured", None) == (settings.env, settings.log_level):
        return
    root.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(settings))
    root.addHandler(handler)
    root.setLevel(_level(settings))
    root.propagate = False
    root._scenewatch_configured = (settings.env, settings.log_level)  # type: ignore[attr-defined]


def route_app_logger(app: Flask) -> None:
    """Send Flask's own log (unhandled exceptions: "Exception on /path") through the
    ``scenewatch`` handler, so production logs them as JSON like everything else."""
    root = logging.getLogger("scenewatch")
    app.logger.handlers[:] = root.handlers
    app.logger.setLevel(logging.INFO)
    app.logger.propagate = False


def configure_process_logging(settings: Settings) -> None:
    """For a service process (scheduler, Celery worker): every logger, ours and the
    libraries', writes through one stderr handler in the configured format."""
    configure_logging(settings)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(settings))
    root.addHandler(handler)
    root.setLevel(_level(settings))
    if _level(settings) > logging.DEBUG:
        # Its "Running job … executed successfully" pair every 15 s would drown the rest.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn() lines too (e.g. Celery's SecurityWarning)


def _level(settings: Settings) -> int:
    return logging.getLevelName(settings.log_level.upper())  # type: ignore[no-any-return]
