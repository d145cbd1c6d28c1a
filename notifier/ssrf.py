"""Keeping user-supplied webhook URLs away from our own network.

A webhook URL is checked when the channel is created (for a clear message on the
form) and its connection checks again when it connects: it resolves the name once,
refuses if any answer is private, and connects to the checked address itself
(:mod:`config.outgoing`), so DNS rebinding never reaches ``connect()``.
"""
from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from config.outgoing import (
    ResolutionCache,
    TargetRefused,
    batch_resolver,
    checked_addresses,
    forbidden_reason,
    pinned_connection,
    use_resolver,
)
from config.outgoing.addresses import IPAddress, Resolver

# The webhook name for the one refusal error (``except WebhookTargetError`` catches
# refusals from every outgoing connection).
WebhookTargetError = TargetRefused
NOUN = "webhook host"

__all__ = [
    "ResolutionCache", "WebhookTargetError", "batch_resolver", "check_webhook_url",
    "forbidden_reason", "guarded_connection", "use_resolver",
]


def _configured_allow_private() -> bool:
    """The bound settings' webhook_allow_private; refuse when none are bound."""
    from config.extensions import settings as bound_settings

    current = bound_settings.peek()
    return bool(current is not None and current.webhook_allow_private)


def check_webhook_url(url: str, *, allow_private: bool | None = None,
                      resolve: Resolver | None = None) -> list[IPAddress]:
    """Validate ``url`` as a webhook target and return the addresses it resolves to.

    Raises WebhookTargetError naming the problem: scheme, missing host, an address
    that is private/loopback/link-local/multicast/reserved/unspecified (unless
    ``allow_private``, by default the app's ``webhook_allow_private``) or a cloud
    metadata address (always).
    """
    if allow_private is None:
        allow_private = _configured_allow_private()
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https"):
        raise WebhookTargetError(f"webhook URL must start with http:// or https://, got {url!r}")
    host = parts.hostname
    if not host:
        raise WebhookTargetError(f"webhook URL {url!r} has no host name")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookTargetError(f"webhook URL {url!r} has an invalid port") from exc
    return checked_addresses(host, port, allow_private=allow_private, noun=NOUN, resolver=resolve)


def guarded_connection(scheme: str, host: str, port: int | None, allow_private: bool,
                       timeout: float) -> http.client.HTTPConnection:
    """An unopened keep-alive HTTP(S) connection for webhook sends that resolves,
    checks and connects to the checked address. No proxy, certificates verified,
    nothing followed: the caller sees every status as it is."""
    return pinned_connection(scheme, host, port, allow_private=allow_private, timeout=timeout,
                             noun=NOUN)
