"""Pages of the delivery side: the embedded mail outbox and unsubscribe links.

Unsubscribing never happens on GET: mail scanners follow links, and a GET only shows
a confirmation page. The POST (ours, or a mail client's RFC 8058 one-click POST with
``List-Unsubscribe=One-Click``) needs no login and no CSRF token: the signed token
in the URL is the authority.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, g, make_response, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from config.extensions import db
from notifier.models import Channel
from subscriptions.views.auth import login_required
from subscriptions.views.csrf import exempt

bp = Blueprint("notifier", __name__)
OUTBOX_LIMIT = 200
UNSUBSCRIBED = "unsubscribed"
# Mail HTML is someone else's markup: shown in a sandboxed frame with no scripts,
# no network, no forms, and no way to reach the parent page.
MAIL_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "font-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def _settings() -> Any:
    return current_app.config["SCENEWATCH"]


def _require_outbox() -> None:
    if _settings().smtp_host:  # mail really leaves the machine: there is no outbox
        abort(404)


def outbox_access(view: Any) -> Any:
    """The outbox of a development instance is its one user's mail catcher, open like
    the rest of the local install; in production it needs a login. Either way a
    viewer sees only the mail subscriptions.views.outbox_access allows."""
    guarded = login_required(view)

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if _settings().production:
            return guarded(*args, **kwargs)
        return view(*args, **kwargs)

    return wrapped


def _visible_to_viewer() -> Any:
    """The predicate on ``To`` headers for the current viewer (see subscriptions.views.outbox_access)."""
    from subscriptions.views.outbox_access import visibility

    with db.session() as s:
        return visibility(s, getattr(g, "user", None))


@bp.route("/outbox")
@outbox_access
def outbox() -> str:
    """The newest messages the embedded mailer wrote."""
    from notifier.mailer import list_outbox

    _require_outbox()
    visible = _visible_to_viewer()
    entries = list_outbox(_settings(), OUTBOX_LIMIT, keep=lambda e: visible(e.to))
    return render_template("outbox.html", entries=entries, outbox_dir=str(_settings().outbox_dir))


def _message(key: str) -> Any:
    from notifier.mailer import read_outbox_message

    _require_outbox()
    # Maildir keys are file names: refuse anything that could walk the file system.
    if not key or "/" in key or "\\" in key or key.startswith("."):
        abort(404)
    message = read_outbox_message(_settings(), key)
    if message is None or not _visible_to_viewer()(message.to):
        abort(404)
    return message


@bp.route("/outbox/<key>")
@outbox_access
def outbox_message(key: str) -> str:
    """One message: its headers, text part and html part (framed)."""
    return render_template("outbox_message.html", message=_message(key))


@bp.route("/outbox/<key>/html")
@outbox_access
def outbox_html(key: str) -> Response:
    """The html part alone, under a sandboxing CSP, for the frame on the message page."""
    message = _message(key)
    response = make_response(message.html or "")
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = MAIL_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _channel_for(s: Any, token: str) -> Channel | None:
    """The channel an unsubscribe token names, if it still exists and is the very
    channel the link was made for (same id and creation time)."""
    from notifier.tokens import InvalidToken, object_stamp, read_unsubscribe_token

    try:
        channel_id, stamp = read_unsubscribe_token(token)
    except InvalidToken:
        return None
    channel = s.get(Channel, channel_id)
    if channel is None or object_stamp(channel.created_at) != stamp:
        return None
    return channel


def _mask(address: str) -> str:
    """``r•••@example.org``: enough to recognise one's address, not to harvest it."""
    name, at, domain = address.partition("@")
    if not at:
        return address[:12] + ("…" if len(address) > 12 else "")
    return f"{name[:1]}•••@{domain}"


@bp.route("/unsubscribe/<token>", methods=["GET"])
def unsubscribe(token: str) -> Any:
    """Ask for confirmation (a GET changes nothing)."""
    with db.session() as s:
        channel = _channel_for(s, token)
        if channel is None:
            return render_template("unsubscribe.html", state="invalid"), 404
        scenes = [scene.name for scene in _scenes_of(s, channel.id)]
        state = "done" if channel.disabled_reason == UNSUBSCRIBED else "confirm"
        return render_template(
            "unsubscribe.html",
            state=state,
            token=token,
            target=_mask(channel.target),
            kind=channel.kind,
            scenes=scenes,
        )


def _scenes_of(s: Any, channel_id: int) -> list[Any]:
    from subscriptions.models import Scene, scene_channel

    return list(
        s.scalars(
            select(Scene)
            .join(scene_channel, scene_channel.c.scene_id == Scene.id)
            .where(scene_channel.c.channel_id == channel_id)
            .order_by(Scene.id)
        )
    )


@bp.route("/unsubscribe/<token>", methods=["POST"])
@exempt
def unsubscribe_post(token: str) -> Any:
    """Unsubscribe: our confirm button, or a mail client's one-click POST."""
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    with db.session() as s:
        channel = _channel_for(s, token)
        if channel is None:
            if one_click:
                return (
                    "unknown or invalid unsubscribe link\n",
                    404,
                    {"Content-Type": "text/plain; charset=utf-8"},
                )
            return render_template("unsubscribe.html", state="invalid"), 404
        if channel.disabled_reason != UNSUBSCRIBED:
            channel.disabled_reason = UNSUBSCRIBED
            current_app.logger.info(
                "channel %s unsubscribed%s", channel.id, " (one-click)" if one_click else ""
            )
        target, kind = _mask(channel.target), channel.kind
    if one_click:
        # Mail clients only look at the status; keep the body short and plain.
        return "unsubscribed\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("unsubscribe.html", state="done", target=target, kind=kind, scenes=[])
