"""Server-side login sessions: what makes a session cookie valid.

The cookie (signed by Flask) holds a random token; the database holds its SHA-256
with the user and an expiry. A stolen or old cookie stops working the moment its row
is gone: on logout (that browser), on a password change (every other browser) and
when the account is deleted (foreign key cascade).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from config.extensions import rowcount
from subscriptions.models import LoginSession, User

SESSION_LIFETIME = timedelta(days=31)


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def open_session(session: Session, user: User, now: datetime | None = None) -> str:
    """Start a login session for ``user``; returns the token to put in the cookie."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(id=_key(token), user_id=user.id, created_at=now,
                             expires_at=now + SESSION_LIFETIME))
    session.flush()
    return token


def session_user(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The user a cookie's token belongs to, or None (unknown, ended or expired)."""
    if not token or len(token) > 128:
        return None
    row = session.get(LoginSession, _key(token))
    if row is None:
        return None
    if row.expires_at <= (now or datetime.now(UTC)):
        session.delete(row)
        return None
    return session.get(User, row.user_id)


def close_session(session: Session, token: str) -> None:
    """End one login session (logout)."""
    if token:
        session.execute(delete(LoginSession).where(LoginSession.id == _key(token)))


def close_sessions(session: Session, user_id: int, keep_token: str | None = None) -> int:
    """End every login session of ``user_id`` except ``keep_token``'s; returns how many."""
    query = delete(LoginSession).where(LoginSession.user_id == user_id)
    if keep_token:
        query = query.where(LoginSession.id != _key(keep_token))
    return rowcount(session.execute(query))


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete expired session rows; returns how many."""
    now = now or datetime.now(UTC)
    ids = list(session.scalars(select(LoginSession.id).where(LoginSession.expires_at <= now)))
    if ids:
        session.execute(delete(LoginSession).where(LoginSession.id.in_(ids)))
    return len(ids)
