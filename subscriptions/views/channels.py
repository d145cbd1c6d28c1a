"""A scene's channels on its page: mute / unmute, and a signed test event for webhooks."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import translate
from subscriptions.views.auth import login_required
from subscriptions.views.scenes import owned_scene

bp = Blueprint("channels", __name__)


def _back(scene_id: int) -> Response:
    return redirect(url_for("scenes.show", scene_id=scene_id) + "#channels")


@bp.post("/scenes/<int:scene_id>/channels/<int:channel_id>/pause")
@bp.post("/scenes/<int:scene_id>/channels/<int:channel_id>/resume", endpoint="resume")
@login_required
def pause(scene_id: int, channel_id: int) -> Response:
    """Mute a channel (its notifications are held) or unmute it (they are sent)."""
    from flask import request

    from notifier import channel_admin

    resume = request.path.endswith("/resume")
    with db.session() as s:
        scene = owned_scene(s, scene_id)
        channel = next((c for c in scene.channels if c.id == channel_id), None)
        if channel is None:
            abort(404)
        if resume:
            released = channel_admin.resume(s, channel)
        else:
            channel_admin.pause(channel)
    flash(translate("channel.resumed", count=released) if resume else translate("channel.paused"), "ok")
    return _back(scene_id)


@bp.post("/scenes/<int:scene_id>/channels/<int:channel_id>/test")
@login_required
def send_test(scene_id: int, channel_id: int) -> Response:
    """POST a signed ``test.ping`` to a webhook channel and say what came back."""
    from flask import current_app

    from notifier import channel_admin

    with db.session() as s:
        scene = owned_scene(s, scene_id)
        channel = next((c for c in scene.channels if c.id == channel_id), None)
        if channel is None or channel.kind != "webhook":
            abort(404)
        outcome = channel_admin.send_test(channel, current_app.config["SCENEWATCH"])
    if outcome.ok:
        flash(translate("channel.test_ok", status=outcome.status_code, latency=outcome.latency_ms), "ok")
    else:
        flash(translate("channel.test_failed", error=outcome.error or outcome.status_code), "error")
    return _back(scene_id)
