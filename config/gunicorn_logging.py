"""gunicorn's error and access logs as JSON lines (``logger_class`` in
:mod:`config.gunicorn_conf`).

An access line carries what an operator filters on — method, path, status, bytes,
duration, client, user agent — and the ``request_id`` the app gave the request (read
back from its ``X-Request-ID`` response header), so it joins the app's own lines.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from config.logging import JsonFormatter
from config.request_id import HEADER


class JsonLogger(Logger):
    """gunicorn's logger with every line formatted by :class:`JsonFormatter`."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        """One JSON line per request (when an access log is configured)."""
        if not self.cfg.accesslog:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        headers = {name.lower(): value for name, value in (resp.headers or [])}
        fields = {
            "sw_method": atoms["m"],
            "sw_path": atoms["U"],
            "sw_query": atoms["q"],
            "sw_status": resp.status_code,
            "sw_bytes": getattr(resp, "sent", None),
            "sw_duration_ms": round(request_time.total_seconds() * 1000, 1),
            "sw_remote_addr": atoms["h"],
            "sw_user_agent": atoms["a"],
            "sw_referer": atoms["f"],
            "sw_request_id": headers.get(HEADER.lower()),
        }
        try:
            self.access_log.info("%s %s %s", atoms["m"], atoms["U"], resp.status_code, extra=fields)
        except Exception:  # a log line must never break a response
            self.error(f"cannot write the access log line for {atoms['U']}")

