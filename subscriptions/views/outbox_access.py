"""Who may read a message in the embedded outbox.

A viewer sees exactly the mail addressed to their own addresses: the account's
address and the email channels they have confirmed (double opt-in). Addresses are
compared whole and case-insensitively, never as substrings. Anonymous visitors of a
development install see the local mail catcher (the command line's and the demo's
mail) minus anything addressed to a web account's own addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import getaddresses

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.models import Channel, ChannelKind
from subscriptions.models import User


def recipients(to_header: str) -> set[str]:
    """The lower-cased addresses in a ``To`` header (display names dropped)."""
    return {address.strip().lower() for _, address in getaddresses([to_header or ""]) if address}


def own_addresses(session: Session, user: User) -> set[str]:
    """The account address and the user's confirmed email channel addresses."""
    targets = session.scalars(
        select(Channel.target).where(
            Channel.owner_id == user.id,
            Channel.kind == ChannelKind.email.value,
            Channel.verified.is_(True),
        )
    )
    return {user.email.strip().lower(), *(t.strip().lower() for t in targets)}


def account_addresses(session: Session) -> set[str]:
    """Every address that belongs to an account people log in with (the operator
    account of the command line has no password and is not one of them)."""
    users = session.scalars(select(User).where(User.password_hash != "")).all()
    addresses: set[str] = set()
    for user in users:
        addresses |= own_addresses(session, user)
    return addresses


def visibility(session: Session, viewer: User | None) -> Callable[[str], bool]:
    """A predicate on a message's ``To`` header: may ``viewer`` (None: anonymous on a
    development install) read it?"""
    if viewer is not None:
        mine = own_addresses(session, viewer)
        return lambda to: bool(recipients(to) & mine)
    claimed = account_addresses(session)
    return lambda to: not (recipients(to) & claimed)
