"""Webhook signatures in the Standard Webhooks format.

A secret is ``whsec_`` + base64 of random bytes. A signature is ``v1,`` + base64 of
HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``, where body is exactly
the bytes sent. While a secret is being rotated, every message carries one signature
per live secret (space-separated), so receivers can switch keys without a gap.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

PREFIX = "whsec_"
VERSION = "v1"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
# Receivers commonly reject timestamps more than five minutes away from their clock.
DEFAULT_TOLERANCE = 300
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)


class SignatureError(ValueError):
    """A secret that cannot be used, or a signature that does not verify."""


class RotatableChannel(Protocol):
    secret: str
    previous_secret: str
    previous_secret_expires_at: datetime | None


def generate_secret(nbytes: int = 32) -> str:
    """A new ``whsec_`` secret of ``nbytes`` random bytes (24–64)."""
    if not MIN_SECRET_BYTES <= nbytes <= MAX_SECRET_BYTES:
        raise ValueError(f"a webhook secret needs {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes, not {nbytes}")
    return PREFIX + base64.b64encode(_random.token_bytes(nbytes)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret; raises SignatureError when it is malformed."""
    if not secret or not secret.startswith(PREFIX):
        raise SignatureError("webhook secret must start with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("webhook secret is not valid base64 after 'whsec_'") from exc
    if len(key) < MIN_SECRET_BYTES:
        raise SignatureError(f"webhook secret is shorter than {MIN_SECRET_BYTES} bytes")
    return key


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{msg_id}.{timestamp}.{body}`` with ``secret``."""
    digest = _digest(secret_bytes(secret), msg_id, timestamp, _as_bytes(body))
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    live = [s for s in secrets if s]
    if not live:
        raise SignatureError("no webhook secret to sign with")
    return " ".join(sign(s, msg_id, timestamp, body) for s in live)


def active_secrets(channel: RotatableChannel, now: datetime | None = None) -> list[str]:
    """The channel's current secret, plus the previous one until its overlap expires."""
    now = now or datetime.now(UTC)
    live = [channel.secret] if channel.secret else []
    expires = channel.previous_secret_expires_at
    if channel.previous_secret and (expires is None or expires > now):
        live.append(channel.previous_secret)
    return live


def rotate_secret(channel: RotatableChannel, now: datetime | None = None,
                  overlap: timedelta = DEFAULT_ROTATION_OVERLAP) -> str:
    """Give ``channel`` a new secret; the old one keeps signing for ``overlap``. Returns the new one."""
    now = now or datetime.now(UTC)
    new = generate_secret()
    if channel.secret:
        channel.previous_secret = channel.secret
        channel.previous_secret_expires_at = now + overlap
    channel.secret = new
    return new


def verify(secrets: Sequence[str], msg_id: str, timestamp: str | int, body: bytes | str,
           signature: str, *, now: float | None = None, tolerance: int = DEFAULT_TOLERANCE) -> None:
    """Check a received message the way a receiver should; raises SignatureError on failure.

    Accepts the message when any ``v1`` signature in ``signature`` matches any of
    ``secrets`` and the timestamp is within ``tolerance`` seconds of ``now``.
    """
    try:
        ts = int(str(timestamp))
    except ValueError as exc:
        raise SignatureError(f"webhook-timestamp {timestamp!r} is not a whole number") from exc
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        raise SignatureError("webhook-timestamp is outside the accepted window")
    raw = _as_bytes(body)
    expected = [_digest(secret_bytes(s), msg_id, ts, raw) for s in secrets if s]
    for part in signature.split():
        version, _, encoded = part.partition(",")
        if version != VERSION:
            continue  # other schemes (e.g. v1a) are not ours to check
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, digest) for digest in expected):
            return
    raise SignatureError("no matching webhook signature")
