"""Signed tokens in links we email or post: unsubscribe, address confirmation, downloads.

Each purpose has its own salt, so a token made for one can never be used for another.
Unsubscribe tokens do not expire (an old email's link must keep working); download and
confirmation tokens do.
"""
from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from config.settings import Settings

UNSUBSCRIBE_SALT = "unsubscribe"
CONFIRM_SALT = "confirm-channel"
DOWNLOAD_SALT = "download"
DOWNLOAD_SELECTIONS = ("all", "added", "changed")
CONFIRM_MAX_AGE = 3 * 24 * 3600


class InvalidToken(ValueError):
    """A token that was tampered with, made for another purpose, or garbled."""


class ExpiredToken(InvalidToken):
    """A genuine token whose time is up."""


def _settings(settings: Settings | None) -> Settings:
    from config.extensions import settings as bound_settings

    return bound_settings.resolve(settings)


def _serializer(salt: str, settings: Settings | None) -> URLSafeTimedSerializer:
    key = _settings(settings).secret_key
    if not key:
        raise RuntimeError("secret_key is empty: signed links cannot be made")
    return URLSafeTimedSerializer(key, salt=salt)


def _load(salt: str, token: str, max_age: int | None, settings: Settings | None) -> Any:
    try:
        return _serializer(salt, settings).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ExpiredToken("this link has expired") from exc
    except BadSignature as exc:
        raise InvalidToken("this link is not valid") from exc


def make_unsubscribe_token(channel_id: int, settings: Settings | None = None) -> str:
    """A token naming ``channel_id`` for the one-click unsubscribe link."""
    return _serializer(UNSUBSCRIBE_SALT, settings).dumps({"c": int(channel_id)})


def read_unsubscribe_token(token: str, settings: Settings | None = None) -> int:
    """The channel id in an unsubscribe token; raises InvalidToken."""
    data = _load(UNSUBSCRIBE_SALT, token, None, settings)
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise InvalidToken("this link is not valid")
    return data["c"]


def unsubscribe_url(channel_id: int, settings: Settings | None = None) -> str:
    """``{base_url}/unsubscribe/<token>``: GET shows a confirm page, POST unsubscribes."""
    settings = _settings(settings)
    return f"{settings.base_url}/unsubscribe/{make_unsubscribe_token(channel_id, settings)}"


def make_confirm_token(channel_id: int, target: str, settings: Settings | None = None) -> str:
    """A token confirming that ``target`` belongs to whoever reads mail there.

    The address is inside the token, so changing a channel's address voids old links.
    """
    return _serializer(CONFIRM_SALT, settings).dumps({"c": int(channel_id), "t": target})


def read_confirm_token(token: str, max_age: int = CONFIRM_MAX_AGE,
                       settings: Settings | None = None) -> tuple[int, str]:
    """(channel id, address) from a confirmation token; raises InvalidToken / ExpiredToken."""
    data = _load(CONFIRM_SALT, token, max_age, settings)
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("t"), str):
        raise InvalidToken("this link is not valid")
    return data["c"], data["t"]


def make_download_token(run_id: int, selection: str, settings: Settings | None = None) -> str:
    """A token for downloading ``selection`` (all | added | changed) of run ``run_id``."""
    if selection not in DOWNLOAD_SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(DOWNLOAD_SELECTIONS)}, not {selection!r}")
    return _serializer(DOWNLOAD_SALT, settings).dumps({"r": int(run_id), "s": selection})


def read_download_token(token: str, max_age: int | None = None,
                        settings: Settings | None = None) -> tuple[int, str]:
    """(run id, selection) from a download token no older than ``max_age`` seconds
    (default: settings.download_ttl); raises InvalidToken / ExpiredToken."""
    settings = _settings(settings)
    data = _load(DOWNLOAD_SALT, token, settings.download_ttl if max_age is None else max_age, settings)
    if (not isinstance(data, dict) or not isinstance(data.get("r"), int)
            or data.get("s") not in DOWNLOAD_SELECTIONS):
        raise InvalidToken("this link is not valid")
    return data["r"], data["s"]
