"""Outgoing HTTP: the one way the service talks to other hosts.

Webhooks, batch-download files and harvests all connect through here: the host is
resolved once, every answer is checked against the address policy, and the socket is
opened to one of those checked addresses (no second lookup, no proxy). Redirects, when
a caller allows them, are checked hop by hop.
"""
from config.outgoing.addresses import (
    ResolutionCache,
    TargetRefused,
    batch_resolver,
    checked_addresses,
    forbidden_reason,
    override_resolver,
    use_resolver,
)
from config.outgoing.client import Response, Target, TooManyRedirects, open_url
from config.outgoing.connections import ConnectFailed, pinned_connection

__all__ = [
    "ConnectFailed", "ResolutionCache", "Response", "Target", "TargetRefused", "TooManyRedirects",
    "batch_resolver", "checked_addresses", "forbidden_reason", "open_url", "override_resolver",
    "pinned_connection", "use_resolver",
]
