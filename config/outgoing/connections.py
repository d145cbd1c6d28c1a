"""HTTP(S) connections that resolve, check, and connect to the checked address.

``connect()`` resolves the host once through :func:`config.outgoing.addresses.resolve`,
refuses if any answer is forbidden, and opens the TCP connection to one of those very
addresses (pinned): there is no second lookup between the check and the connect. TLS
is then negotiated for the original host name (SNI and certificate check), and the
``Host`` header names it as well. No proxy is ever used: it would make the check
meaningless.

A refused target never reaches ``connect()``, so the error cannot tell an open port
from a closed one.
"""
from __future__ import annotations

import http.client
import socket
import ssl
from typing import Any

from config.outgoing.addresses import TargetRefused, checked_addresses

_TLS: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The shared client TLS context: system trust store, hostnames verified."""
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()
    return _TLS


class ConnectFailed(OSError):
    """No checked address of the host accepted a connection."""


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


class _Pinned:
    """The resolve → check → connect step shared by the plain and TLS connections."""

    host: str
    port: int
    timeout: float | None
    allow_private: bool = False
    noun: str = "host"
    connect_timeout: float | None = None  # None: the read timeout serves for both
    peer: str | None = None  # the address actually connected to

    def _open_pinned(self) -> socket.socket:
        addresses = checked_addresses(self.host, self.port, allow_private=self.allow_private,
                                      noun=self.noun)
        wait = self.connect_timeout if self.connect_timeout is not None else self.timeout
        failure: OSError | None = None
        for ip in addresses:
            try:
                sock = socket.create_connection((str(ip), self.port), wait)
            except OSError as exc:
                failure = exc
                continue
            sock.settimeout(self.timeout)  # from now on: how long one read may wait
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.peer = str(ip)
            return sock
        if isinstance(failure, TimeoutError):
            raise TimeoutError(f"{self.noun} {self.host} did not accept a connection within "
                               f"{wait:g} s")
        # Callers name the host themselves: the message is the reason alone.
        raise ConnectFailed(failure.strerror if failure is not None and failure.strerror
                            else "connection refused")


class PinnedHTTPConnection(_OneWrite, _Pinned, http.client.HTTPConnection):
    """A plain HTTP connection to a checked, pinned address."""

    def connect(self) -> None:
        self.sock = self._open_pinned()


class PinnedHTTPSConnection(_OneWrite, _Pinned, http.client.HTTPSConnection):
    """A TLS connection to a checked, pinned address, verified for the host name."""

    def connect(self) -> None:
        sock = self._open_pinned()
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
        except BaseException:
            sock.close()
            raise


def pinned_connection(scheme: str, host: str, port: int | None, *, allow_private: bool,
                      timeout: float, connect_timeout: float | None = None,
                      noun: str = "host") -> http.client.HTTPConnection:
    """An unopened HTTP(S) connection that will resolve, check and pin when it connects.

    ``timeout`` bounds each read; ``connect_timeout`` (default: ``timeout``) the connect.
    Nothing is followed: the caller sees every status as it is.
    """
    if scheme not in ("http", "https"):
        raise TargetRefused(f"{noun} URL must start with http:// or https://")
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = PinnedHTTPSConnection(host, port, timeout=timeout, context=tls_context())
    else:
        conn = PinnedHTTPConnection(host, port, timeout=timeout)
    conn.allow_private = allow_private  # type: ignore[attr-defined]
    conn.noun = noun  # type: ignore[attr-defined]
    conn.connect_timeout = connect_timeout  # type: ignore[attr-defined]
    return conn
