"""Which addresses an outgoing request may reach, and the one place names are resolved.

Every outgoing connection (webhooks, batch-download files, harvests) resolves its host
here, checks every answer, and then connects to one of exactly those checked addresses
(see :mod:`config.outgoing.connections`): a name that answers with a public address for
the check and a private one a moment later (DNS rebinding) never reaches ``connect()``.

Tests point :func:`override_resolver` at a sequence of answers to simulate rebinding.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Instance-metadata services hand out cloud credentials: never a target, whatever
# the allow-private settings say.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",   # AWS, GCP, Azure, OpenStack, DigitalOcean, Tencent
    "169.254.170.2",     # AWS ECS task metadata
    "100.100.100.200",   # Alibaba Cloud
    "192.0.0.192",       # Oracle Cloud
    "fd00:ec2::254",     # AWS over IPv6
))
METADATA_HOSTNAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal",
})
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not the internet
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(ValueError):
    """An address or URL we refuse to contact. ``retryable`` when it may work later
    (the name could not be resolved right now)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_reason(ip: IPAddress, allow_private: bool = False) -> str | None:
    """Why ``ip`` may not be contacted, or None when it may."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = forbidden_reason(inner, allow_private)
            return f"{reason} (inside IPv6 {ip})" if reason else None
    if allow_private:
        return None
    # Order matters: the most specific description first (loopback is also "reserved").
    checks = (
        ("unspecified", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a reserved address", ip.is_reserved),
        ("a private address", ip.is_private),
        ("a shared (carrier-grade NAT) address",
         isinstance(ip, ipaddress.IPv4Address) and ip in SHARED_SPACE),
    )
    for reason, hit in checks:
        if hit:
            return reason
    if not ip.is_global:
        return "not a public internet address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answers for ``host`` (addresses as text, in its order)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_override: Resolver | None = None
_batch = threading.local()


@contextmanager
def override_resolver(resolve: Resolver) -> Iterator[None]:
    """Within the block, every resolution in this process goes through ``resolve``
    (tests: a fake DNS answering a sequence of addresses)."""
    global _override
    previous = _override
    _override = resolve
    try:
        yield
    finally:
        _override = previous


@contextmanager
def use_resolver(resolve: Resolver | None) -> Iterator[None]:
    """Within the block, this thread resolves through ``resolve`` (a delivery batch's
    :class:`ResolutionCache`)."""
    previous = getattr(_batch, "resolve", None)
    _batch.resolve = resolve
    try:
        yield
    finally:
        _batch.resolve = previous


def batch_resolver() -> Resolver | None:
    """The resolver set by :func:`use_resolver` for this thread, if any."""
    return getattr(_batch, "resolve", None)


def resolve(host: str, port: int) -> list[str]:
    """Resolve ``host`` with this thread's batch resolver, the override, or the system."""
    chosen = batch_resolver() or _override or system_resolver
    return chosen(host, port)


class ResolutionCache:
    """Answers shared by the sends of one delivery batch and kept at most ``ttl``
    seconds, so a batch to one host resolves it once. Failures are not kept. Every
    connection still checks the answer it connects to."""

    def __init__(self, ttl: float = 30.0, resolve: Resolver | None = None) -> None:
        self.ttl = ttl
        self._resolve = resolve
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._pending: dict[tuple[str, int], threading.Lock] = {}

    def __call__(self, host: str, port: int) -> list[str]:
        key = (host.lower(), port)
        with self._lock:
            hit = self._answers.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return list(hit[1])
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:  # one lookup per host at a time; the others wait for its answer
            with self._lock:
                hit = self._answers.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return list(hit[1])
            answer = (self._resolve or _override or system_resolver)(host, port)
            with self._lock:
                self._answers[key] = (time.monotonic() + self.ttl, list(answer))
        return list(answer)


def _is_local_name(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost")


def checked_addresses(host: str, port: int, *, allow_private: bool, noun: str = "host",
                      resolver: Resolver | None = None) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, all of them allowed.

    Raises :class:`TargetRefused` when the name is a metadata service, a loopback name
    (unless ``allow_private``), cannot be resolved (retryable), or when any answer is a
    forbidden address: otherwise a connection could pick that one. ``noun`` starts the
    messages ("webhook host", "harvest host"); ``resolver`` replaces :func:`resolve`.
    """
    name = host.rstrip(".").lower()
    if name in METADATA_HOSTNAMES:
        raise TargetRefused(f"{noun} {host} is a cloud metadata service")
    if not allow_private and _is_local_name(name):
        raise TargetRefused(f"{noun} {host} is this machine (loopback)")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            names = (resolver or resolve)(host, port)
        except (OSError, UnicodeError) as exc:
            # A DNS outage or a typo: worth retrying later, reported either way.
            raise TargetRefused(f"{noun} {host} could not be resolved ({exc})",
                                retryable=True) from exc
        try:
            addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in names]
        except ValueError as exc:
            raise TargetRefused(f"{noun} {host} resolved to a malformed address") from exc
        if not addresses:
            raise TargetRefused(f"{noun} {host} has no addresses", retryable=True)
    for ip in addresses:
        reason = forbidden_reason(ip, allow_private)
        if reason:
            shown = host if literal is not None else f"{host} ({ip})"
            raise TargetRefused(f"{noun} {shown} is {reason}; refused")
    return addresses
