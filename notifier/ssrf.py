"""Keeping user-supplied webhook URLs away from our own network.

A webhook URL is checked when the channel is created and again at send time (DNS
may have changed). The send-time guard also checks the address the socket actually
connected to, so a name that resolves to a public address during the check and a
private one a moment later (DNS rebinding) is still refused before a byte is sent.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Instance-metadata services hand out cloud credentials: never a webhook target,
# whatever webhook_allow_private says.
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


class WebhookTargetError(ValueError):
    """A webhook URL we refuse to call. ``retryable`` when it may work later (DNS failure)."""

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
    """Why ``ip`` may not be a webhook target, or None when it may."""
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


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class ResolutionCache:
    """The system resolver's answers, shared by the sends of one delivery batch and
    kept at most ``ttl`` seconds, so a batch to one host resolves it once. Failures
    are not kept. The connection's own peer check still runs on every new socket."""

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
            answer = (self._resolve or _system_resolver)(host, port)
            with self._lock:
                self._answers[key] = (time.monotonic() + self.ttl, list(answer))
        return list(answer)


_batch = threading.local()


@contextmanager
def use_resolver(resolve: Resolver | None) -> Iterator[None]:
    """Within the block, this thread's send-time checks resolve through ``resolve``."""
    previous = getattr(_batch, "resolve", None)
    _batch.resolve = resolve
    try:
        yield
    finally:
        _batch.resolve = previous


def batch_resolver() -> Resolver | None:
    """The resolver set by :func:`use_resolver` for this thread, if any."""
    return getattr(_batch, "resolve", None)


def _configured_allow_private() -> bool:
    """settings.webhook_allow_private inside an app context; refuse outside one."""
    try:
        from config.app import current_settings

        return bool(current_settings().webhook_allow_private)
    except RuntimeError:  # no app context: the safe answer
        return False


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
    if host.rstrip(".").lower() in METADATA_HOSTNAMES:
        raise WebhookTargetError(f"webhook host {host} is a cloud metadata service")
    if not allow_private and (host.rstrip(".").lower() == "localhost"
                              or host.rstrip(".").lower().endswith(".localhost")):
        raise WebhookTargetError(f"webhook host {host} is this machine (loopback)")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            names = (resolve or _system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            # A DNS outage or a typo: worth retrying at send time, reported either way.
            raise WebhookTargetError(f"webhook host {host} could not be resolved ({exc})",
                                     retryable=True) from exc
        addresses = [ipaddress.ip_address(name.split("%", 1)[0]) for name in names]
        if not addresses:
            raise WebhookTargetError(f"webhook host {host} has no addresses", retryable=True)
    # Refuse if any address is forbidden: otherwise the connection could pick that one.
    for ip in addresses:
        reason = forbidden_reason(ip, allow_private)
        if reason:
            shown = host if literal is not None else f"{host} ({ip})"
            raise WebhookTargetError(f"webhook host {shown} is {reason}; refused")
    return addresses


def _check_peer(sock: socket.socket, host: str, allow_private: bool) -> None:
    peer = sock.getpeername()[0]
    ip = ipaddress.ip_address(str(peer).split("%", 1)[0])
    reason = forbidden_reason(ip, allow_private)
    if reason:
        sock.close()
        raise WebhookTargetError(f"webhook host {host} connected to {ip}, which is {reason}; refused")


def _guarded_pool_classes(allow_private: bool) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose new connections refuse forbidden peer addresses."""

    class GuardedHTTP(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            _check_peer(sock, self.host, allow_private)
            return sock

    class GuardedHTTPS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            _check_peer(sock, self.host, allow_private)
            return sock

    class HTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTP

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPS

    return {"http": HTTPPool, "https": HTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse forbidden peer addresses."""

    def __init__(self, allow_private: bool, **kwargs: Any) -> None:
        self.allow_private = allow_private
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _guarded_pool_classes(self.allow_private)


class _OneWrite:
    """Headers and a bytes body leave in one write: one segment on the wire instead of
    two (and one wake-up of the receiver). Same bytes as http.client sends."""

    _buffer: list[bytes]

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, bytes) and not encode_chunked:
            self._buffer.extend((b"", b""))
            message = b"\r\n".join(self._buffer) + message_body
            del self._buffer[:]
            self.send(message)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _GuardedHTTPConnection(_OneWrite, http.client.HTTPConnection):
    """A plain connection that checks its peer address before any byte is sent."""

    allow_private = False

    def connect(self) -> None:
        super().connect()
        try:
            _check_peer(self.sock, self.host, self.allow_private)
        except WebhookTargetError:
            self.sock = None
            raise


class _GuardedHTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    """A TLS connection that checks its peer address before the handshake starts."""

    allow_private = False

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP only, no TLS yet
        try:
            _check_peer(self.sock, self.host, self.allow_private)
        except WebhookTargetError:
            self.sock = None
            raise
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


_TLS: ssl.SSLContext | None = None


def guarded_connection(scheme: str, host: str, port: int | None, allow_private: bool,
                       timeout: float) -> http.client.HTTPConnection:
    """An unopened keep-alive HTTP(S) connection for webhook sends whose peer address is
    checked when it connects. No proxy (so the check means something), certificates
    verified, nothing followed: the caller sees every status as it is."""
    global _TLS
    if scheme == "https":
        if _TLS is None:
            _TLS = ssl.create_default_context()
        conn: http.client.HTTPConnection = _GuardedHTTPSConnection(host, port, timeout=timeout, context=_TLS)
    else:
        conn = _GuardedHTTPConnection(host, port, timeout=timeout)
    conn.allow_private = allow_private  # type: ignore[attr-defined]
    return conn


def guarded_session(allow_private: bool) -> requests.Session:
    """A requests session for webhook sends: peer addresses checked, no env proxies.

    Environment proxies and .netrc are ignored on purpose: a proxy would make the
    peer check meaningless and .netrc could leak our credentials to a user's URL.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(allow_private, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
