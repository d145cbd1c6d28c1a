"""Rate limits of the web form (Flask-Limiter; counted in Redis when configured).

- Login: failed attempts are counted per account and per client address; past either
  limit even the right password is refused (429) until the window has passed.
- Registration: per client address (it tells whether an address is taken).
- Mail to addresses nobody has confirmed yet (double opt-in) and webhook test events:
  per target, so nobody can use the service to flood a stranger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from werkzeug.wrappers import Response

from config.extensions import limiter
from config.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
# An account may confirm this many times more addresses than one address may receive.
PER_ACCOUNT_FACTOR = 10
REGISTER_LIMIT = "20 per hour"


def _settings() -> Settings:
    return current_app.config["SCENEWATCH"]


def _login_account() -> str:
    """The account a login attempt names (normalised as accounts are stored)."""
    return "login:" + (request.form.get("email") or "").strip().lower()[:320]


def _failed(response: Response) -> bool:
    return response.status_code == 401


def throttle_login(view: F) -> F:
    """Count failed logins per account and per client address."""
    per_account = limiter.limit(lambda: _settings().login_limit_account, key_func=_login_account,
                                methods=["POST"], deduct_when=_failed, scope="login-account")
    per_address = limiter.limit(lambda: _settings().login_limit_address, key_func=get_remote_address,
                                methods=["POST"], deduct_when=_failed, scope="login-address")
    # flask-limiter's decorators wrap with functools.wraps: the view keeps its signature.
    return cast(F, per_address(per_account(view)))


def throttle_registration(view: F) -> F:
    """Registrations per client address (each answer says whether an address is taken)."""
    return cast(F, limiter.limit(REGISTER_LIMIT, key_func=get_remote_address, methods=["POST"],
                                 scope="register")(view))


def _hit(rate: str, *identifiers: str) -> bool:
    return bool(limiter.limiter.hit(_item(rate), *identifiers))


def _item(rate: str) -> RateLimitItem:
    return parse(rate)


def allow_confirmation_mail(address: str) -> bool:
    """May one more confirmation mail go to ``address`` now (per address, and per
    sending account at ``PER_ACCOUNT_FACTOR`` times the rate)? Counts it when yes."""
    rate = _item(_settings().confirm_mail_limit)
    account = getattr(getattr(g, "user", None), "id", None)
    per_account = type(rate)(rate.amount * PER_ACCOUNT_FACTOR, rate.multiples)
    if account is not None and not limiter.limiter.test(per_account, "confirm-mail-account", str(account)):
        return False
    if not _hit(_settings().confirm_mail_limit, "confirm-mail", address.strip().lower()):
        return False
    if account is not None:
        limiter.limiter.hit(per_account, "confirm-mail-account", str(account))
    return True


def allow_webhook_test(channel_id: int) -> bool:
    """May one more test event go to webhook channel ``channel_id`` now? Counts it when yes."""
    return _hit(_settings().webhook_test_limit, "webhook-test", str(channel_id))


def init_limits(app: Flask) -> None:
    """Bind the limiter to ``app`` with the storage the settings name."""
    settings: Settings = app.config["SCENEWATCH"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.ratelimit_storage_uri)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # A storage outage must not take logins down with it: limits pause, with a warning.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
