"""The account page (language, time zone, password, my channels, delete my account)
and the password reset by mail."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import LOCALES, localise_problem, translate
from subscriptions.models import Scene, User, scene_channel
from subscriptions.views.auth import COMMON_ZONES, current_session_token, login_required

bp = Blueprint("account", __name__)


def _settings() -> Any:
    return current_app.config["SCENEWATCH"]


def _me(s: Any) -> User:
    """The logged-in user's row (gone only if deleted meanwhile: then 404)."""
    user = s.get(User, g.user.id)
    if user is None:
        abort(404)
    return user


def _problems(problems: list[Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.field, []).append(localise_problem(problem.message))
    return errors


def _channels(s: Any, user_id: int) -> list[dict[str, Any]]:
    """The user's channels with the scenes each one serves."""
    from notifier.models import Channel

    rows = []
    for channel in s.scalars(select(Channel).where(Channel.owner_id == user_id).order_by(Channel.id)):
        scenes = s.execute(
            select(Scene.id, Scene.name).join(scene_channel, scene_channel.c.scene_id == Scene.id)
            .where(scene_channel.c.channel_id == channel.id).order_by(Scene.id)
        ).all()
        rows.append({"channel": channel, "scenes": scenes})
    return rows


def _render(errors: dict[str, list[str]] | None = None, status: int = 200,
            form: dict[str, str] | None = None) -> tuple[str, int]:
    with db.session() as s:
        user = _me(s)
        channels = _channels(s, user.id)
        values = {"locale": user.locale, "timezone": user.timezone, **(form or {})}
        return render_template("account.html", user=user, channels=channels, errors=errors or {},
                               values=values, zones=COMMON_ZONES, locales=LOCALES), status


@bp.get("/account")
@login_required
def show() -> tuple[str, int]:
    """The account page."""
    return _render()


@bp.post("/account/preferences")
@login_required
def preferences() -> Any:
    """Language and time zone (pages, mail and times follow them)."""
    from subscriptions.account import set_preferences
    from subscriptions.accounts import AccountError

    locale = (request.form.get("locale") or "").strip()
    zone = (request.form.get("timezone") or "").strip()
    with db.session() as s:
        user = _me(s)
        try:
            set_preferences(user, locale, zone)
        except AccountError as exc:
            s.rollback()
            return _render(_problems([exc]), 400, {"locale": locale, "timezone": zone})
    session["lang"] = locale  # the explicit choice wins over the one remembered for this visit
    flash(translate("account.preferences_saved", locale), "ok")
    return redirect(url_for("account.show"))


@bp.post("/account/password")
@login_required
def password() -> Any:
    """Change the password (the current one is asked for)."""
    from subscriptions.account import change_password

    form = request.form
    with db.session() as s:
        user = _me(s)
        problems = change_password(user, form.get("current_password") or "", form.get("new_password") or "",
                                   form.get("new_password2") or "", keep_session=current_session_token())
        if problems:
            s.rollback()
            return _render(_problems(problems), 400)
    flash(translate("account.password_changed"), "ok")
    return redirect(url_for("account.show"))


@bp.post("/account/confirm-address")
@login_required
def confirm_address() -> Response:
    """Send the confirmation mail for the account's own address."""
    from subscriptions.account import account_address_channel
    from subscriptions.views.scenes import send_confirmations

    with db.session() as s:
        channel = account_address_channel(s, _me(s))
        pending = [] if channel.verified else [(channel.id, channel.target)]
    send_confirmations(pending)
    return redirect(url_for("account.show") + "#channels")


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete() -> Any:
    """GET asks (typing the address); POST deletes the account and all it owns."""
    from subscriptions.account import delete_account

    typed = (request.form.get("confirm_email") or "").strip().lower()
    if request.method == "POST" and typed == g.user.email.lower():
        with db.session() as s:
            delete_account(s, _me(s))
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        flash(translate("account.deleted"), "ok")
        return redirect(url_for("search_page.index"))
    error = translate("account.delete_mismatch") if request.method == "POST" else None
    return render_template("account_delete.html", error=error), (400 if error else 200)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot() -> Any:
    """Ask for a reset link by mail (same answer whether or not the address has an account)."""
    from subscriptions.account import send_reset_mail
    from subscriptions.views.limits import allow_confirmation_mail

    email = (request.values.get("email") or "").strip()
    if request.method == "POST":
        try:
            # Same answer when throttled: the page must not tell who has an account,
            # and nobody may flood an address with reset mails.
            if allow_confirmation_mail(email):
                with db.session() as s:
                    send_reset_mail(s, email, _settings())
        except Exception as exc:  # the mail server is down: say so, keep what was typed
            current_app.logger.warning("password reset mail failed: %s", exc)
            flash(translate("reset.mail_failed"), "error")
            return render_template("password_forgot.html", email=email), 503
        flash(translate("reset.mail_sent", address=email), "info")
        return redirect(url_for("auth.login"))
    return render_template("password_forgot.html", email=email)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    """Set a new password from the mailed link, then log in."""
    from subscriptions.account import reset_password, user_for_reset_token
    from subscriptions.views.auth import _log_in as log_in

    settings = _settings()
    with db.session() as s:
        if user_for_reset_token(s, token, settings) is None:
            return render_template("password_reset.html", token=None, errors={}), 400
        if request.method == "GET":
            return render_template("password_reset.html", token=token, errors={})
        user, problems = reset_password(s, token, request.form.get("new_password") or "",
                                        request.form.get("new_password2") or "", settings)
        if problems or user is None:
            s.rollback()
            return render_template("password_reset.html", token=token, errors=_problems(problems)), 400
        log_in(s, user)
    flash(translate("reset.done"), "ok")
    return redirect(url_for("scenes.index"))
