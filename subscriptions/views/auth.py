"""Register, log in and out; the session holds the user's id."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import LOCALES, get_locale, localise_problem, normalise_locale, translate
from subscriptions.models import User

bp = Blueprint("auth", __name__)
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
    g.user = None
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:  # the account was deleted: forget the stale session
            session.pop("user_id", None)
            return
        chosen = normalise_locale(request.args.get("lang"))
        if chosen and user.locale != chosen:
            user.locale = chosen
        g.user = user


def current_user() -> User | None:
    """The logged-in user of this request, if any."""
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


def _log_in(user: User) -> None:
    # A fresh session on login stops session fixation; the language choice survives.
    lang = session.get("lang")
    session.clear()
    session["user_id"] = user.id
    if lang:
        session["lang"] = lang
    session.permanent = True


@bp.route("/register", methods=["GET", "POST"])
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
                    _log_in(user)
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
            _log_in(user)
            return redirect(next_url or url_for("scenes.index"))
        failed = True
    return render_template("login.html", email=email, failed=failed, next=next_url), (
        401 if failed else 200
    )  # type: ignore[return-value]


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Forget the user (POST only, so a link on another site cannot log people out)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(translate("auth.logged_out"), "ok")
    return redirect(url_for("search_page.index"))
