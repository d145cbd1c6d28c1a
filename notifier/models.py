"""Channels, notifications (one diff for one channel) and deliveries (one attempt each)."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.extensions import NEVER_REUSE_IDS, Base


class ChannelKind(str, enum.Enum):
    email = "email"
    webhook = "webhook"


class NotificationState(str, enum.Enum):
    pending = "pending"  # written with the run, not yet attempted
    retrying = "retrying"  # failed at least once, next_attempt_at set
    sent = "sent"
    dead = "dead"  # out of retries, or the endpoint is gone; can be redelivered
    held = "held"  # waiting for a digest or the end of quiet hours


class Channel(Base):
    """Where a user's diffs go: an email address or a webhook URL."""

    __tablename__ = "channel"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)  # address or URL
    secret: Mapped[str] = mapped_column(String(128), default="")  # webhooks: whsec_…
    previous_secret: Mapped[str] = mapped_column(String(128), default="")  # rotation overlap
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cadence: Mapped[str] = mapped_column(String(16), default="immediate")  # immediate|daily|weekly
    send_when_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The owner's language, time zone and account address, copied here (and kept in
    # step by subscriptions.models) so that delivery never looks up the account.
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai", server_default="Asia/Shanghai")
    owner_email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime]
    # Digest time in the owner's zone (None: the default hour / Monday).
    digest_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)
    digest_weekday: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0 = Monday
    # Quiet hours, "HH:MM" local time; deliveries due inside the window wait for its end.
    quiet_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    quiet_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    # Muted by its owner: notifications are held, and released on resume.
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Notification(Base):
    """One diff for one channel, written in the same transaction as its run."""

    __tablename__ = "notification"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The webhook-id: identical on every attempt so receivers can dedupe.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"), index=True)
    scene_id: Mapped[int | None] = mapped_column(ForeignKey("scene.id", ondelete="SET NULL"), nullable=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("scene_run.id", ondelete="SET NULL"), nullable=True)
    event_type: Mapped[str] = mapped_column(String(64), default="scene.changed")
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default=NotificationState.pending.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Set when retention replaced the body by its counts and dropped the attempt log.
    compacted_at: Mapped[datetime | None] = mapped_column(nullable=True)

    channel: Mapped[Channel] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="notification", order_by="Delivery.id", cascade="all, delete-orphan"
    )


class Delivery(Base):
    """One attempt to deliver a notification (the log users see)."""

    __tablename__ = "delivery"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # ours, never the receiver's body
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")


class DigestCursor(Base):
    """Per-channel high-water mark: the last notification included in a sent digest."""

    __tablename__ = "digest_cursor"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True)
    last_notification_id: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
