"""Rate limits per API token: 429 with Retry-After (Flask-Limiter).

The limit is counted per token (its public prefix), before the token is even looked up,
so a flood of requests costs no database work; requests without a token count per
address. Counters live in Redis when the broker is Redis (shared by every web process),
else in the process's memory.
"""
from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from config.settings import Settings
from subscriptions.api_tokens import LOOKUP_CHARS, TOKEN_PREFIX


def token_key() -> str:
    """The counter a request is charged to: its token's prefix, else its address."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    raw = raw.strip()
    if scheme.lower() == "bearer" and raw.startswith(TOKEN_PREFIX):
        return "token:" + raw[: len(TOKEN_PREFIX) + LOOKUP_CHARS]
    return "addr:" + (get_remote_address() or "unknown")


def storage_uri(settings: Settings) -> str:
    """Redis (the broker's) when there is one, so every web process shares the counters."""
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return settings.broker_url
    return "memory://"


def init_limits(app: Flask, settings: Settings, blueprints: Iterable[Blueprint]) -> Limiter:
    """Charge every request to the API blueprints against ``settings.api_rate_limit``."""
    limiter = Limiter(token_key, app=app, storage_uri=storage_uri(settings), headers_enabled=True,
                      key_prefix="scenewatch-api", strategy="fixed-window")
    for blueprint in blueprints:
        limiter.limit(settings.api_rate_limit, key_func=token_key)(blueprint)
    return limiter
