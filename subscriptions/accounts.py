"""Accounts: register, authenticate, and the operator account the CLI acts as."""
from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from subscriptions.errors import FieldProblem
from subscriptions.models import User

OPERATOR_EMAIL = "operator@localhost"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8


class AccountError(FieldProblem):
    """A registration or login problem, with the field it concerns."""


def normalise_email(email: str) -> str:
    """Trimmed, lower-cased address; raises AccountError when it is not an address."""
    value = (email or "").strip().lower()
    if not EMAIL_RE.match(value):
        raise AccountError("email", f"{email!r} is not an email address")
    return value


def find_user(session: Session, email: str) -> User | None:
    """The account with this address, if any."""
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def register_user(session: Session, email: str, password: str, locale: str = "zh",
                  timezone_name: str = "Asia/Shanghai") -> User:
    """Create an account with a hashed password; refuses taken addresses and short passwords."""
    address = normalise_email(email)
    if len(password or "") < MIN_PASSWORD:
        raise AccountError("password", f"must be at least {MIN_PASSWORD} characters")
    if find_user(session, address) is not None:
        raise AccountError("email", f"{address} is already registered")
    user = User(
        email=address,
        password_hash=generate_password_hash(password),
        locale=locale if locale in ("zh", "en") else "zh",
        timezone=timezone_name,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user


# Checked when no account matches, so an unknown address costs the same hashing time
# as a wrong password: response times do not tell which accounts exist.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose address and password match, else None (same answer, and about
    the same time, for both mistakes)."""
    user = find_user(session, email or "")
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def invalidate_sessions(user: User, keep_session: str | None = None) -> int:
    """End every login session of ``user`` but ``keep_session`` (the token of the
    browser that changed the password, if it stays logged in): call it whenever the
    password changes, so a thief's cookie dies with the old password. Returns how many
    sessions ended."""
    from sqlalchemy.orm import object_session

    from subscriptions.sessions import close_sessions

    session = object_session(user)
    if session is None:
        raise ValueError("invalidate_sessions needs a user loaded in a session")
    session.flush()
    return close_sessions(session, user.id, keep_token=keep_session)


def operator_user(session: Session) -> User:
    """The built-in account that owns scenes created on the command line."""
    user = find_user(session, OPERATOR_EMAIL)
    if user is None:
        # The CLI operator is an admin: whoever runs commands already owns the data dir.
        user = User(email=OPERATOR_EMAIL, password_hash="", locale="en", timezone="UTC",
                    created_at=datetime.now(UTC), is_admin=True)
        session.add(user)
        session.flush()
    return user
