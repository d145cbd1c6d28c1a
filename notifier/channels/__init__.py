"""The channel registry: every kind of destination, by the name stored in Channel.kind."""
from __future__ import annotations

from notifier.channels.base import (
    DIGEST_EVENT,
    BaseChannel,
    DeliveryError,
    EndpointGone,
    Outgoing,
    SendResult,
)
from notifier.channels.email import EmailChannel
from notifier.channels.webhook import WebhookChannel

CHANNELS: dict[str, type[BaseChannel]] = {
    "email": EmailChannel,
    "webhook": WebhookChannel,
}


def get_channel(kind: str) -> BaseChannel:
    """An instance of the channel class for ``kind``; KeyError names the known kinds."""
    try:
        return CHANNELS[kind]()
    except KeyError:
        raise KeyError(f"unknown channel kind {kind!r}; known: {', '.join(sorted(CHANNELS))}") from None


__all__ = [
    "CHANNELS", "DIGEST_EVENT", "BaseChannel", "DeliveryError", "EmailChannel", "EndpointGone",
    "Outgoing", "SendResult", "WebhookChannel", "get_channel",
]
