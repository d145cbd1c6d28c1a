"""Logging: readable lines in development, one JSON object per line in production."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from config.settings import Settings

if TYPE_CHECKING:
    from flask import Flask


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (for log shippers)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key.startswith("sw_"):  # structured extras: logger.info(..., extra={"sw_scene": 3})
                entry[key[3:]] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the ``scenewatch`` root logger."""
    root = logging.getLogger("scenewatch")
    if getattr(root, "_scenewatch_configured", None) == settings.env:
        return
    root.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    if settings.production:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    root._scenewatch_configured = settings.env  # type: ignore[attr-defined]


def route_app_logger(app: "Flask") -> None:
    """Send Flask's own log (unhandled exceptions: "Exception on /path") through the
    ``scenewatch`` handler, so production logs them as JSON like everything else."""
    root = logging.getLogger("scenewatch")
    app.logger.handlers[:] = root.handlers
    app.logger.setLevel(logging.INFO)
    app.logger.propagate = False
