"""Personal API tokens: create (shown once), authenticate, list, revoke.

A token is ``swt_`` + an 8-character lookup id + ``_`` + 43 random characters. Only the
lookup prefix and a SHA-256 of the whole token are stored: the random part has 256 bits,
so a fast hash is enough (nothing to brute-force), and a stolen database holds no usable
token. Scopes are ordered: ``read`` < ``write`` < ``admin``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscriptions.errors import FieldProblem
from subscriptions.models import ApiToken, User

SCOPES: tuple[str, ...] = ("read", "write", "admin")
TOKEN_PREFIX = "swt_"
LOOKUP_CHARS = 8
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_EXPIRY_DAYS = 3650


class TokenError(FieldProblem):
    """A token request that cannot be honoured, naming the field."""


class TokenRefused(PermissionError):
    """A bearer token that does not authenticate; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class IssuedToken:
    """A freshly created token: the row, and the secret shown this one time."""

    token: ApiToken
    secret: str


def is_admin(user: User) -> bool:
    """True for administrators (``scenewatch users grant-admin``)."""
    return bool(user.is_admin)


def scope_allows(held: str, needed: str) -> bool:
    """True when a token of scope ``held`` may do what ``needed`` requires."""
    if held not in SCOPES or needed not in SCOPES:
        return False
    return SCOPES.index(held) >= SCOPES.index(needed)


def hash_token(raw: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_scope(scope: str | None, owner: User) -> str:
    """The scope to give a new token (default ``read``); TokenError for an unknown one or
    ``admin`` for someone who is not an administrator."""
    value = (scope or "read").strip().lower()
    if value not in SCOPES:
        raise TokenError("scope", f"{scope!r} is not a scope; choose read, write or admin")
    if value == "admin" and not is_admin(owner):
        raise TokenError("scope", "only administrators can create admin tokens")
    return value


def check_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    """A future, time-zone-aware expiry no more than ten years away (or None: never)."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= now:
        raise TokenError("expires_at", "must be in the future")
    if expires_at > now + timedelta(days=MAX_EXPIRY_DAYS):
        raise TokenError("expires_at", f"must be within {MAX_EXPIRY_DAYS} days")
    return expires_at


def create_token(session: Session, owner: User, *, name: str = "", scope: str | None = "read",
                 expires_at: datetime | None = None, now: datetime | None = None) -> IssuedToken:
    """Issue a new token for ``owner``; the returned secret is never stored and never shown again."""
    now = now or utcnow()
    name = (name or "").strip()
    if len(name) > 200:
        raise TokenError("name", "at most 200 characters")
    chosen = check_scope(scope, owner)
    expiry = check_expiry(expires_at, now)
    lookup = secrets.token_urlsafe(6)[:LOOKUP_CHARS].replace("_", "x")
    raw = f"{TOKEN_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    token = ApiToken(owner_id=owner.id, name=name or f"token {lookup}", prefix=f"{TOKEN_PREFIX}{lookup}",
                     token_hash=hash_token(raw), scope=chosen, created_at=now, expires_at=expiry)
    session.add(token)
    session.flush()
    return IssuedToken(token=token, secret=raw)


def authenticate_token(session: Session, raw: str, now: datetime | None = None) -> ApiToken:
    """The live token ``raw`` names; TokenRefused with the reason otherwise.

    A revoked token is refused from the moment its revocation commits: nothing is cached.
    """
    now = now or utcnow()
    raw = (raw or "").strip()
    if not raw.startswith(TOKEN_PREFIX) or raw.count("_") < 2:
        raise TokenRefused("malformed token")
    lookup = raw[: len(TOKEN_PREFIX) + LOOKUP_CHARS]
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == lookup))
    if token is None or not hmac.compare_digest(token.token_hash, hash_token(raw)):
        raise TokenRefused("unknown token")
    if token.revoked_at is not None:
        raise TokenRefused("token revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused("token expired")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token


def list_tokens(session: Session, owner: User) -> list[ApiToken]:
    """``owner``'s tokens, newest first (revoked ones too: they show when they stopped)."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.owner_id == owner.id).order_by(ApiToken.id.desc())
    ))


def owned_token(session: Session, owner: User, token_id: int) -> ApiToken:
    """``owner``'s token ``token_id``; LookupError for anyone else's or a missing one."""
    token = session.get(ApiToken, token_id)
    if token is None or token.owner_id != owner.id:
        raise LookupError(f"no token with id {token_id}")
    return token


def revoke_token(token: ApiToken, now: datetime | None = None) -> None:
    """Refuse ``token`` from now on (revoking twice keeps the first time)."""
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """active | expired | revoked."""
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def token_info(token: ApiToken, now: datetime | None = None) -> dict[str, Any]:
    """A token as plain data: never its secret or hash."""
    return {
        "id": token.id, "name": token.name, "prefix": token.prefix, "scope": token.scope,
        "state": token_state(token, now), "created_at": token.created_at,
        "last_used_at": token.last_used_at, "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }
