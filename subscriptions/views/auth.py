"""Register, log in and out; the session holds the user's id."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import LOCALES, get_locale, localise_problem, normalise_locale, translate
from subscriptions.models import User
from subscriptions.views.limits import throttle_login, throttle_registration

bp = Blueprint("auth", __name__)
# The cookie session key holding the login session token (see subscriptions.sessions).
SESSION_TOKEN = "sid"
F = TypeVar("F", bound=Callable[..., Any])
COMMON_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


def load_user() -> None:
    """Put the logged-in user (or None) on ``g``; remember an explicit language
    choice on the account so later mail uses it too."""
    from subscriptions.sessions import session_user

    g.user = None
    token = current_session_token()
    if token is None:
        return
    with db.session() as s:
        user = session_user(s, token)
        if user is None:  # logged out elsewhere, password changed, account deleted
            session.pop(SESSION_TOKEN, None)
            return
        chosen = normalise_locale(request.args.get("lang"))
        if chosen and user.locale != chosen:
            user.locale = chosen
        g.user = user


def current_session_token() -> str | None:
    """The login session token of this request's cookie (for
    :func:`subscriptions.accounts.change_password`'s ``keep_session``)."""
    token = session.get(SESSION_TOKEN)
    return token if isinstance(token, str) else None


def current_user() -> User | None:
    """The logged-in user of this request, if any (apps without the login hook, such
    as the bare download app, look the session up on first use)."""
    if "user" not in g:
        load_user()
    return getattr(g, "user", None)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    # A CR/LF would split the Location header; no control character belongs in a path.
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:  # some browsers read /\evil.example as //evil.example
        return None
    return target


def _same_site_referrer() -> str | None:
    if not request.referrer:
        return None
    parts = urlsplit(request.referrer)
    if parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def login_required(view: F) -> F:
    """Send anonymous visitors to the login page, then back here."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            back = request.full_path if request.query_string else request.path
            if request.method != "GET":
                # After logging in, a form post cannot be replayed; return to the page it came from.
                back = _same_site_referrer() or request.path
            flash(translate("auth.login_needed"), "info")
            return redirect(url_for("auth.login", next=back))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _log_in(s: Session, user: User) -> None:
    """Start a server-side login session (in ``s``'s transaction) and put its token in
    a fresh cookie session: a new cookie on login stops session fixation; the
    language choice survives."""
    from subscriptions.sessions import open_session

    token = open_session(s, user)
    lang = session.get("lang")
    session.clear()
    session[SESSION_TOKEN] = token
    if lang:
        session["lang"] = lang
    session.permanent = True


@bp.route("/register", methods=["GET", "POST"])
@throttle_registration
def register() -> str | Response:
    """Create an account and log in."""
    from subscriptions.accounts import MIN_PASSWORD, AccountError, normalise_email, register_user
    from subscriptions.schedule import ScheduleError, check_timezone

    errors: dict[str, str] = {}
    form = {"email": "", "locale": get_locale(), "timezone": "Asia/Shanghai"}
    next_url = safe_next(request.values.get("next"))
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in ("email", "locale", "timezone")}
        password = request.form.get("password") or ""
        # Every problem at once, each next to its field, in the reader's language.
        try:
            normalise_email(form["email"])
        except AccountError as exc:
            errors["email"] = localise_problem(exc.message)
        if len(password) < MIN_PASSWORD:
            errors["password"] = localise_problem(f"must be at least {MIN_PASSWORD} characters")
        if password != (request.form.get("password2") or ""):
            errors["password2"] = translate("auth.passwords_differ")
        try:
            check_timezone(form["timezone"] or "Asia/Shanghai")
        except ScheduleError as exc:
            errors["timezone"] = localise_problem(exc.message)
        if not errors:
            try:
                with db.session() as s:
                    user = register_user(
                        s,
                        form["email"],
                        password,
                        normalise_locale(form["locale"]) or get_locale(),
                        timezone_name=form["timezone"] or "Asia/Shanghai",
                    )
                    s.flush()
                    _log_in(s, user)
                flash(translate("auth.welcome"), "ok")
                return redirect(next_url or url_for("search_page.index"))
            except AccountError as exc:
                errors[exc.field] = localise_problem(exc.message)
    status = 400 if errors else 200
    return (
        render_template(
            "register.html",
            form=form,
            errors=errors,
            next=next_url,
            zones=COMMON_ZONES,
            locales=LOCALES,
        ),
        status,
    )  # type: ignore[return-value]


@bp.route("/login", methods=["GET", "POST"])
@throttle_login
def login() -> str | Response:
    """Log in with email and password."""
    from subscriptions.accounts import authenticate

    next_url = safe_next(request.values.get("next"))
    email = ""
    failed = False
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        with db.session() as s:
            user = authenticate(s, email, request.form.get("password") or "")
            if user is not None:
                _log_in(s, user)
        if user is not None:
            return redirect(next_url or url_for("scenes.index"))
        failed = True
    return render_template("login.html", email=email, failed=failed, next=next_url), (
        401 if failed else 200
    )  # type: ignore[return-value]


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """End the login session for good (POST only, so a link on another site cannot log
    people out): the cookie is worthless afterwards, even if someone kept a copy."""
    from subscriptions.sessions import close_session

    token = current_session_token()
    if token:
        with db.session() as s:
            close_session(s, token)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(translate("auth.logged_out"), "ok")
    return redirect(url_for("search_page.index"))
