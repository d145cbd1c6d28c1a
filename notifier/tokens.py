"""Signed tokens in links we email or post: unsubscribe, address confirmation, downloads.

Each purpose has its own salt, so a token made for one can never be used for another.
Unsubscribe tokens do not expire (an old email's link must keep working); download and
confirmation tokens do. Every token names its object by id *and* by the object's
creation time (:func:`object_stamp`): ids are never reused, and even if one came back
(a restored backup, a reset sequence) a link made for the earlier object names nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from config.settings import Settings

UNSUBSCRIBE_SALT = "unsubscribe"
CONFIRM_SALT = "confirm-channel"
DOWNLOAD_SALT = "download"
DOWNLOAD_SELECTIONS = ("all", "added", "changed")
CONFIRM_MAX_AGE = 3 * 24 * 3600


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def object_stamp(created: datetime) -> int:
    """An object's creation time in whole microseconds since 1970 (exact, no float)."""
    if created.tzinfo is None:
        raise ValueError("naive datetime given as a creation time")
    return (created - EPOCH) // timedelta(microseconds=1)


def _stamp_of(data: dict[str, Any]) -> int:
    stamp = data.get("k")
    if not isinstance(stamp, int) or isinstance(stamp, bool):
        raise InvalidToken("this link is not valid")
    return stamp


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
    return _serializer_for(key, salt)


@lru_cache(maxsize=32)
def _serializer_for(key: str, salt: str) -> URLSafeTimedSerializer:
    # Built once per key and salt: a batch of runs signs three links each.
    return URLSafeTimedSerializer(key, salt=salt)


def _load(salt: str, token: str, max_age: int | None, settings: Settings | None) -> Any:
    try:
        return _serializer(salt, settings).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ExpiredToken("this link has expired") from exc
    except BadSignature as exc:
        raise InvalidToken("this link is not valid") from exc


def _channel_created_at(channel_id: int) -> datetime:
    from config.extensions import db
    from notifier.models import Channel

    with db.session() as session:
        channel = session.get(Channel, channel_id)
        if channel is None:
            raise LookupError(f"no channel with id {channel_id}")
        return channel.created_at


def make_unsubscribe_token(channel_id: int, settings: Settings | None = None, *,
                           created_at: datetime | None = None) -> str:
    """A token naming channel ``channel_id`` (created at ``created_at``; looked up when
    not given) for the one-click unsubscribe link."""
    created = created_at or _channel_created_at(channel_id)
    return _serializer(UNSUBSCRIBE_SALT, settings).dumps({"c": int(channel_id), "k": object_stamp(created)})


def read_unsubscribe_token(token: str, settings: Settings | None = None) -> tuple[int, int]:
    """(channel id, creation stamp) from an unsubscribe token; raises InvalidToken.
    The caller checks the stamp against the channel (:func:`object_stamp`)."""
    data = _load(UNSUBSCRIBE_SALT, token, None, settings)
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise InvalidToken("this link is not valid")
    return data["c"], _stamp_of(data)


def unsubscribe_url(channel_id: int, settings: Settings | None = None, *,
                    created_at: datetime | None = None) -> str:
    """``{base_url}/unsubscribe/<token>``: GET shows a confirm page, POST unsubscribes."""
    settings = _settings(settings)
    token = make_unsubscribe_token(channel_id, settings, created_at=created_at)
    return f"{settings.base_url}/unsubscribe/{token}"


def make_confirm_token(channel_id: int, target: str, settings: Settings | None = None, *,
                       created_at: datetime) -> str:
    """A token confirming that ``target`` belongs to whoever reads mail there.

    The address is inside the token, so changing a channel's address voids old links.
    """
    return _serializer(CONFIRM_SALT, settings).dumps(
        {"c": int(channel_id), "t": target, "k": object_stamp(created_at)})


def read_confirm_token(token: str, max_age: int = CONFIRM_MAX_AGE,
                       settings: Settings | None = None) -> tuple[int, str, int]:
    """(channel id, address, creation stamp) from a confirmation token; raises
    InvalidToken / ExpiredToken."""
    data = _load(CONFIRM_SALT, token, max_age, settings)
    if not isinstance(data, dict) or not isinstance(data.get("c"), int) or not isinstance(data.get("t"), str):
        raise InvalidToken("this link is not valid")
    return data["c"], data["t"], _stamp_of(data)


def make_download_token(run_id: int, selection: str, settings: Settings | None = None, *,
                        started_at: datetime) -> str:
    """A token for downloading ``selection`` (all | added | changed) of run ``run_id``
    (which started at ``started_at``)."""
    if selection not in DOWNLOAD_SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(DOWNLOAD_SELECTIONS)}, not {selection!r}")
    return _serializer(DOWNLOAD_SALT, settings).dumps(
        {"r": int(run_id), "s": selection, "k": object_stamp(started_at)})


def read_download_token(token: str, max_age: int | None = None,
                        settings: Settings | None = None) -> tuple[int, str, int]:
    """(run id, selection, creation stamp) from a download token no older than
    ``max_age`` seconds (default: settings.download_ttl); raises InvalidToken /
    ExpiredToken. The caller checks the stamp against the run's ``started_at``."""
    settings = _settings(settings)
    data = _load(DOWNLOAD_SALT, token, settings.download_ttl if max_age is None else max_age, settings)
    if (not isinstance(data, dict) or not isinstance(data.get("r"), int)
            or data.get("s") not in DOWNLOAD_SELECTIONS):
        raise InvalidToken("this link is not valid")
    return data["r"], data["s"], _stamp_of(data)
