"""Accounts, scenes, runs and members."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from config.extensions import NEVER_REUSE_IDS, Base

if TYPE_CHECKING:
    from notifier.models import Channel


class RunState(str, enum.Enum):
    working = "working"
    baseline = "baseline"  # first run: recorded, nothing sent
    noop = "noop"  # nothing changed
    changed = "changed"
    error = "error"


class User(Base):
    __tablename__ = "user_account"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256), default="")
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime]
    # Admins see the sources page (harvest history, quarantine); `users grant-admin`.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)

    scenes: Mapped[list[Scene]] = relationship(back_populates="owner")


# Each channel carries copies of its owner's language, time zone and address (the
# delivery side reads no account); a change to one is copied to every channel they own.
_COPIED = {"locale": "locale", "timezone": "timezone", "email": "owner_email"}


def _fill_channel_copies(mapper: Any, connection: Any, channel: Any) -> None:
    """A new channel without the copies gets them from its owner."""
    if channel.timezone is not None and channel.owner_email is not None:
        return
    owner = connection.execute(select(User.timezone, User.email).where(User.id == channel.owner_id)).first()
    if owner is not None:
        if channel.timezone is None:
            channel.timezone = owner.timezone
        if channel.owner_email is None:
            channel.owner_email = owner.email


def _listen_for_new_channels() -> None:
    from notifier.models import Channel

    event.listen(Channel, "before_insert", _fill_channel_copies)


@event.listens_for(User.locale, "set")
@event.listens_for(User.timezone, "set")
@event.listens_for(User.email, "set")
def _copy_to_channels(user: User, value: Any, old: Any, initiator: Any) -> None:
    session = object_session(user)
    if session is None or user.id is None or value == old:
        return
    from notifier.models import Channel

    with session.no_autoflush:
        for channel in session.scalars(select(Channel).where(Channel.owner_id == user.id)):
            setattr(channel, _COPIED[initiator.key], value)


class LoginSession(Base):
    """One logged-in browser. The session cookie carries only a random token; the row
    (keyed by the token's SHA-256) is what makes it valid, so logging out, changing
    the password or deleting the account ends it for good."""

    __tablename__ = "login_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


scene_channel = Table(
    "scene_channel",
    Base.metadata,
    Column("scene_id", ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True),
    Column("channel_id", ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True),
)


class Scene(Base):
    """A saved query, its schedule and which fields count as a change."""

    __tablename__ = "scene"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[dict[str, Any]]
    schedule: Mapped[str] = mapped_column(String(100), default="daily")  # preset or cron
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    tracked_fields: Mapped[list[Any]]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_run_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    # Set while a run of this scene is in progress (see subscriptions.run_lock).
    run_claimed_at: Mapped[datetime | None] = mapped_column(nullable=True, default=None)

    owner: Mapped[User] = relationship(back_populates="scenes")
    channels: Mapped[list[Channel]] = relationship(secondary=scene_channel)
    runs: Mapped[list[SceneRun]] = relationship(
        back_populates="scene", order_by="SceneRun.id.desc()", cascade="all, delete-orphan"
    )


class SceneRun(Base):
    """One execution of a scene for one scheduled time (never two for the same time)."""

    __tablename__ = "scene_run"
    __table_args__ = (
        UniqueConstraint("scene_id", "scheduled_for", name="uq_scene_run_scheduled"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scene.id", ondelete="CASCADE"), index=True)
    scheduled_for: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=RunState.working.value)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)
    diff: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Set when retention replaced the full diff by its counts (subscriptions.retention).
    compacted_at: Mapped[datetime | None] = mapped_column(nullable=True)

    scene: Mapped[Scene] = relationship(back_populates="runs")


class SceneMember(Base):
    """One dataset in a scene's current result set, at the version it matched."""

    __tablename__ = "scene_member"
    # Reverse matching finds the scenes a changed dataset belongs to.
    __table_args__ = (Index("ix_scene_member_dataset_id", "dataset_id"),)

    scene_id: Mapped[int] = mapped_column(ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_version.id"))


class ApiToken(Base):
    """A personal API token: only its prefix and a hash are kept; the token is shown once."""

    __tablename__ = "api_token"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)  # shown in lists, finds the row
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the whole token
    scope: Mapped[str] = mapped_column(String(16), default="read")  # read < write < admin
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class IdempotencyRecord(Base):
    """A POST made with an ``Idempotency-Key``: its fingerprint and, once done, its response."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("owner_id", "key", name="uq_idempotency_record_owner_key"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path and body
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: still running
    body: Mapped[str] = mapped_column(Text, default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)


_listen_for_new_channels()
