"""What every channel receives and raises.

The delivery loop turns a Notification row into an :class:`Outgoing` and hands it to
a channel class; channels never touch the database. A failure is a
:class:`DeliveryError` saying whether another attempt could succeed.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from config.settings import Settings

DIGEST_EVENT = "scene.digest"


@dataclass(frozen=True)
class Outgoing:
    """One message to send: the notification's identity, its content and its channel.

    For a digest, ``event_type`` is ``scene.digest`` and ``payload`` is
    ``{"documents": [diff document, ...]}``; otherwise ``payload`` is one diff document.
    """

    notification_id: int | None
    message_id: str  # the webhook-id / Message-ID seed, the same on every attempt
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    channel_id: int
    kind: str
    target: str  # email address or webhook URL
    locale: str = "zh"
    timezone: str = "UTC"  # the owner's zone: times in the message are shown in it
    secrets: tuple[str, ...] = field(default=(), repr=False)  # webhooks: live signing secrets
    cadence: str = "immediate"
    # Successful sends before this one: a redelivered email needs a new Message-ID or
    # the recipient's mailbox hides it as a duplicate (webhooks keep their webhook-id).
    copy: int = 0

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The diff documents this message carries (one, or a digest's many)."""
        if self.event_type == DIGEST_EVENT:
            return list(self.payload.get("documents", []))
        return [self.payload]


@dataclass(frozen=True)
class SendResult:
    """A successful send: what the log records."""

    status_code: int | None
    latency_ms: int
    detail: str | None = None


class DeliveryError(Exception):
    """A failed send. ``retryable``: a later attempt may succeed (429, 5xx, timeouts).

    The message is our own wording; it never contains the receiver's response body.
    """

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None,
                 retry_after: float | None = None, latency_ms: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after
        self.latency_ms = latency_ms


class EndpointGone(DeliveryError):
    """The receiver answered 410 Gone: stop sending to this endpoint."""

    def __init__(self, message: str = "endpoint answered 410 Gone; channel disabled",
                 *, latency_ms: int | None = None) -> None:
        super().__init__(message, retryable=False, status_code=410, latency_ms=latency_ms)


class BaseChannel(ABC):
    """A kind of destination. Subclasses are small and stateless."""

    kind: ClassVar[str]

    @abstractmethod
    def send(self, outgoing: Outgoing, settings: Settings) -> SendResult:
        """Send once; raise DeliveryError on failure."""
