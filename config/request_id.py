"""A request id for every web request: taken from a trusted proxy's ``X-Request-ID``
when it looks like one, else generated; echoed in the response and put on every log
line written while the request runs (the app's JSON lines and gunicorn's access log)."""
from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context

HEADER = "X-Request-ID"
# What we accept from outside: short, and nothing that could forge a log line.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def init_request_id(app: Flask) -> None:
    """Assign and echo request ids in ``app``."""

    @app.before_request
    def _assign() -> None:
        g.request_id = _incoming() or uuid.uuid4().hex

    @app.after_request
    def _echo(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[HEADER] = request_id
        return response


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    if not has_request_context():
        return None
    return g.get("request_id")


def _incoming() -> str | None:
    from flask import request

    value = request.headers.get(HEADER, "")
    return value if _ACCEPTED.fullmatch(value) else None
