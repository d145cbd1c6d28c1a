"""One outgoing request: pinned connections, redirects checked hop by hop.

:func:`open_url` sends a request and returns the :class:`Response` with its body
unread, to be streamed by the caller. Redirects (when allowed) are followed by hand,
so every hop goes through the same resolve → check → pinned connect; only
:data:`PORTABLE_HEADERS` follow a redirect that leaves the original host.
"""
from __future__ import annotations

import http.client
from dataclasses import dataclass
from email.message import Message
from typing import Self
from urllib.parse import SplitResult, urljoin, urlsplit

from config.outgoing.addresses import TargetRefused
from config.outgoing.connections import pinned_connection

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# The only headers sent on when a redirect leaves the original host: anything else may
# be a credential (a source's "X-API-Key: …" as much as Authorization).
PORTABLE_HEADERS = frozenset({"user-agent", "accept", "accept-encoding", "accept-language",
                              "if-none-match", "if-modified-since"})


class TooManyRedirects(TargetRefused):
    """More redirects than allowed (or a redirect where none is allowed)."""


@dataclass(frozen=True)
class Target:
    """A parsed http(s) URL: what a connection and a request line need."""

    url: str
    scheme: str
    host: str
    port: int | None
    path: str  # path and query, as sent in the request line

    @classmethod
    def parse(cls, url: str, noun: str = "host") -> Target:
        """Parse ``url``; raise :class:`TargetRefused` naming what is wrong with it."""
        text = (url or "").strip()
        try:
            parts: SplitResult = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise TargetRefused(f"{noun} URL {text!r} is not a valid URL ({exc})") from exc
        if parts.scheme not in ("http", "https"):
            raise TargetRefused(f"{noun} URL must start with http:// or https://, got {text!r}")
        if not parts.hostname:
            raise TargetRefused(f"{noun} URL {text!r} has no host name")
        if any(c in text for c in "\r\n\x00 "):
            raise TargetRefused(f"{noun} URL {text!r} contains spaces or control characters")
        path = parts.path or "/"
        return cls(text, parts.scheme, parts.hostname, port,
                   f"{path}?{parts.query}" if parts.query else path)


class Response:
    """A response whose body is still on the wire. Use as a context manager."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse,
                 url: str, peer: str | None) -> None:
        self._conn = conn
        self.raw = raw
        self.url = url  # the final URL, after redirects
        self.peer = peer  # the checked address the body comes from
        self.status = raw.status
        self.headers: Message = raw.msg

    def header(self, name: str) -> str | None:
        return self.raw.getheader(name)

    def read1(self, size: int = 65536) -> bytes:
        """At most ``size`` body bytes from one read of the socket; b"" at the end.

        Transfer encoding (chunked) is undone; Content-Encoding is not.
        """
        return self.raw.read1(size)

    def set_read_timeout(self, seconds: float) -> None:
        """How long the next reads may wait for data (e.g. shortened near a deadline)."""
        sock = self._conn.sock
        if sock is not None:
            sock.settimeout(max(0.001, seconds))

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_url(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
             body: bytes | None = None, allow_private: bool, timeout: float,
             connect_timeout: float | None = None, max_redirects: int = 5,
             noun: str = "host") -> Response:
    """Send one request (following up to ``max_redirects`` GET/HEAD redirects).

    Raises :class:`TargetRefused` for a URL or address we do not contact (also on a
    redirect), :class:`TooManyRedirects`, ``TimeoutError`` / ``OSError`` /
    ``http.client.HTTPException`` for network failures. With ``max_redirects=0`` a
    3xx is returned as it is.
    """
    target = Target.parse(url, noun)
    first_host = target.host.lower()
    sent = dict(headers or {})
    hops = 0
    while True:
        conn = pinned_connection(target.scheme, target.host, target.port,
                                 allow_private=allow_private, timeout=timeout,
                                 connect_timeout=connect_timeout, noun=noun)
        try:
            conn.request(method, target.path, body=body, headers=sent)
            raw = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        response = Response(conn, raw, target.url, getattr(conn, "peer", None))
        location = raw.getheader("location")
        if (raw.status not in REDIRECTS or not location or max_redirects <= 0
                or method not in ("GET", "HEAD")):
            return response
        response.close()
        hops += 1
        if hops > max_redirects:
            raise TooManyRedirects(f"more than {max_redirects} redirects from {url}")
        target = Target.parse(urljoin(target.url, location.strip()), noun)
        if target.host.lower() != first_host:
            sent = {k: v for k, v in sent.items() if k.lower() in PORTABLE_HEADERS}
