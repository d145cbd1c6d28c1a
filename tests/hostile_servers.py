"""Servers and payloads that misbehave on purpose, for tests and benches (127.0.0.1 only).

- :func:`gzip_bomb`: a small gzip file that expands enormously, built in a second:
  identical deflate blocks after a full flush are identical bytes, so one compressed
  megabyte of filler is repeated instead of compressing gigabytes.
- :class:`DripServer`: answers any request with headers promising a body, then sends
  one byte every ``gap`` seconds (a portal holding a harvest forever).
- :class:`ConnectionCounter`: a listening socket that only counts who connects.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from typing import Self

MiB = 1024 * 1024


def gzip_bomb(expanded_mib: int, prefix: bytes = b"[", suffix: bytes = b"]",
              filler: bytes = b" ") -> bytes:
    """A valid gzip file of ``prefix + filler × expanded_mib MiB + suffix``."""
    block = filler * (MiB // len(filler))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff",
             compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)]
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert piece == again, "a full flush resets the compressor: blocks must repeat"
    parts.extend([piece] * expanded_mib)
    parts.append(compressor.compress(suffix) + compressor.flush())
    crc = zlib.crc32(prefix)
    for _ in range(expanded_mib):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + len(block) * expanded_mib + len(suffix)
    parts.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(parts)


class _Listener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/catalog.json"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.close()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


class ConnectionCounter(_Listener):
    """Accepts connections, counts them and closes them at once."""


class DripServer(_Listener):
    """Headers at once, then one byte of body every ``gap`` seconds."""

    def __init__(self, gap: float = 5.0, length: int = 10 * MiB) -> None:
        super().__init__()
        self.gap = gap
        self.length = length
        self.bytes_sent = 0

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {self.length}\r\n\r\n".encode() + b"[")
            while not self._stop.is_set():
                time.sleep(self.gap)
                conn.sendall(b" ")
                self.bytes_sent += 1
        except OSError:  # the client gave up: that is the point
            pass
        finally:
            conn.close()
