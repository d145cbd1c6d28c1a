"""Error pages in the visitor's language (JSON for API clients)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

HANDLED = (400, 403, 404, 405, 409, 413, 429, 500)


def wants_json() -> bool:
    """API paths and clients that prefer JSON get JSON errors."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def render_error(error: HTTPException) -> Any:
    """The error page for ``error`` (its code, a helpful sentence, where to go next)."""
    from subscriptions.api import handle_api_error

    problem = handle_api_error(error)
    if problem is not None:  # /api/v1 speaks RFC 9457 problem+json
        return problem
    code = error.code or 500
    from flask_wtf.csrf import CSRFError

    reason = "csrf" if isinstance(error, CSRFError) else None
    if wants_json():
        return jsonify({"error": {"code": code, "name": error.name, "reason": reason or ""}}), code
    try:
        response = render_template("error.html", code=code, reason=reason), code
    except Exception:  # the error page must never be the second error
        current_app.logger.exception("error page failed to render")
        return f"{code} {error.name}", code, {"Content-Type": "text/plain; charset=utf-8"}
    valid_methods = getattr(error, "valid_methods", None)  # set on MethodNotAllowed only
    if code == 405 and valid_methods:
        return response[0], code, {"Allow": ", ".join(valid_methods)}
    return response


def _other_http_error(error: HTTPException) -> Any:
    """Codes without a page of their own (401, 415, 422, 429 …): a problem on API
    paths, werkzeug's plain response elsewhere."""
    from subscriptions.api import handle_api_error

    return handle_api_error(error) or error


def init_errors(app: Flask) -> None:
    """Register the handlers on the app (so they cover every blueprint)."""
    for code in HANDLED:
        app.register_error_handler(code, render_error)
    app.register_error_handler(HTTPException, _other_http_error)
    # Unhandled exceptions reach the 500 handler after Flask has logged them; tests
    # (PROPAGATE_EXCEPTIONS) still see the original traceback.
