"""``/healthz``: liveness for load balancers and monitors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> Any:
    """``{"ok": true, "datasets": N}``; 503 with the reason when the index does not answer."""
    from config.extensions import search

    try:
        count = search.get().count()
    except Exception as exc:  # report, do not raise: monitors want a body
        current_app.logger.warning("healthz: search index unavailable: %s", exc)
        return jsonify({"ok": False, "datasets": None, "error": type(exc).__name__}), 503
    return jsonify({"ok": True, "datasets": count})
