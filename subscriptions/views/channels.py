"""A scene's channels on its page: mute / unmute, and a signed test event for webhooks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, url_for
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import field_label, localise_problem, translate
from subscriptions.views.auth import login_required
from subscriptions.views.limits import allow_webhook_test
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
    flash(translate("channel.resumed", n=released) if resume else translate("channel.paused"), "ok")
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
        if not allow_webhook_test(channel.id):
            abort(429)
        outcome = channel_admin.send_test(channel, current_app.config["SCENEWATCH"])
    if outcome.ok:
        flash(translate("channel.test_ok", status=outcome.status_code, latency=outcome.latency_ms), "ok")
    else:
        flash(translate("channel.test_failed", error=outcome.error or outcome.status_code), "error")
    return _back(scene_id)


def _edit_page(scene_id: int) -> Response:
    return redirect(url_for("scene_edit.edit", scene_id=scene_id) + "#channels")


def _scene_channel(s: Any, scene_id: int, channel_id: int) -> Any:
    scene = owned_scene(s, scene_id)
    channel = next((c for c in scene.channels if c.id == channel_id), None)
    if channel is None:
        abort(404)
    return scene, channel


@bp.post("/scenes/<int:scene_id>/channels/add")
@login_required
def add(scene_id: int) -> Response:
    """Add an email address (confirmed by mail unless already confirmed) or a webhook."""
    from flask import request, session

    from subscriptions.scene_channels import add_channel
    from subscriptions.scenes import SceneError
    from subscriptions.views.scenes import SHOW_SECRET, send_confirmations

    form = request.form
    kind = form.get("kind")
    target = (form.get("target") or "").strip()
    with db.session() as s:
        scene = owned_scene(s, scene_id)
        try:
            made = add_channel(
                s, scene,
                email=target if kind == "email" else None,
                webhook=target if kind == "webhook" else None,
                email_cadence=form.get("email_cadence") or "immediate",
                send_when_empty=form.get("send_when_empty") == "1",
            )
        except SceneError as exc:
            for problem in exc.problems:
                flash(f"{field_label(problem.field)}: {localise_problem(problem.message)}", "error")
            return _edit_page(scene_id)
        pending = [(c.id, c.target) for c in made if c.kind == "email" and not c.verified]
        hooks = [c.id for c in made if c.kind == "webhook"]
    if hooks:
        session[SHOW_SECRET] = {"scene_id": scene_id, "channel_id": hooks[0]}
        flash(translate("channel.added_webhook"), "ok")
        send_confirmations(pending)
        return redirect(url_for("scenes.show", scene_id=scene_id))
    flash(translate("channel.added"), "ok")
    send_confirmations(pending)
    return _edit_page(scene_id)


@bp.post("/scenes/<int:scene_id>/channels/<int:channel_id>/remove")
@login_required
def remove(scene_id: int, channel_id: int) -> Response:
    """Stop sending this scene to the channel."""
    from subscriptions.scene_channels import remove_channel

    with db.session() as s:
        scene, channel = _scene_channel(s, scene_id, channel_id)
        target = channel.target
        remove_channel(s, scene, channel_id)
    flash(translate("channel.removed", target=target), "ok")
    return _edit_page(scene_id)


@bp.post("/scenes/<int:scene_id>/channels/<int:channel_id>/settings")
@login_required
def settings(scene_id: int, channel_id: int) -> Response:
    """Digest cadence and time (email), quiet hours, and "send even when empty"."""
    from flask import request

    from notifier import channel_admin

    form = request.form
    with db.session() as s:
        _scene, channel = _scene_channel(s, scene_id, channel_id)
        try:
            if channel.kind == "email":
                hour = (form.get("digest_hour") or "").strip()
                channel_admin.set_digest(
                    channel, int(hour) if hour.isdigit() else None,
                    form.get("digest_weekday") or None, form.get("email_cadence") or None)
            start, end = (form.get("quiet_start") or "").strip(), (form.get("quiet_end") or "").strip()
            channel_admin.set_quiet(channel, start or None, end or None)
        except ValueError as exc:
            s.rollback()
            flash(translate("channel.settings_invalid", error=localise_problem(str(exc))), "error")
            return _edit_page(scene_id)
        channel.send_when_empty = form.get("send_when_empty") == "1"
    flash(translate("channel.settings_saved"), "ok")
    return _edit_page(scene_id)


@bp.post("/scenes/<int:scene_id>/channels/<int:channel_id>/rotate")
@login_required
def rotate(scene_id: int, channel_id: int) -> Response:
    """A new webhook secret, shown once; the old one keeps signing for 24 hours."""
    from datetime import timedelta

    from flask import session

    from notifier import channel_admin
    from subscriptions.views.scenes import SHOW_SECRET

    with db.session() as s:
        _scene, channel = _scene_channel(s, scene_id, channel_id)
        if channel.kind != "webhook":
            abort(404)
        channel_admin.rotate(channel, timedelta(hours=24))
    session[SHOW_SECRET] = {"scene_id": scene_id, "channel_id": channel_id}
    flash(translate("channel.rotated"), "ok")
    return redirect(url_for("scenes.show", scene_id=scene_id))
