"""Polite, bounded fetching of a URL source.

One GET per harvest, conditional when the caller knows the last snapshot's validators
(a 304 raises :class:`NotModified` before anything is read). Connect and read timeouts;
retries with exponential backoff on 5xx, 429, timeouts and dropped connections
(honouring Retry-After); an overall deadline; a minimum transfer speed (a body slower
than ``min_speed`` bytes/s over a ``speed_window`` is abandoned); a byte cap on the wire
and on what Content-Encoding expands to, enforced while streaming; an honest
User-Agent; one request at a time per host in this process; and the address policy
of :mod:`config.outgoing` (private addresses refused in production).
"""
from __future__ import annotations

import http.client
import io
import random
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from config.outgoing import Response, TargetRefused, open_url
from search.harvest.records import HarvestError

MiB = 1024 * 1024
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0  # a server asking for more than this is not waited for


class NotModified(Exception):
    """The snapshot is unchanged: a 304 to a conditional GET (``http_status`` None for a
    file whose validator matches)."""

    def __init__(self, http_status: int | None = 304) -> None:
        super().__init__("not modified")
        self.http_status = http_status


@lru_cache(maxsize=1)
def user_agent() -> str:
    """Who is asking, honestly: product, version and what it does."""
    try:
        version = metadata.version("scenewatch")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"scenewatch-harvester/{version} (catalog harvester; one request at a time per host)"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one harvest fetch; :meth:`from_settings` reads them from the settings."""

    connect_timeout: float = 15.0
    read_timeout: float = 60.0  # longest wait for one read of the body
    deadline: float = 1800.0  # SCENEWATCH_HARVEST_TIMEOUT: the whole fetch, retries included
    max_bytes: int = 512 * MiB  # SCENEWATCH_HARVEST_MAX_BYTES: body, and what it expands to
    min_speed: int = 1024  # bytes per second, averaged over speed_window
    speed_window: float = 60.0
    retries: int = 3  # further attempts after the first
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> FetchPolicy:
        return cls(connect_timeout=settings.harvest_connect_timeout,
                   read_timeout=settings.harvest_read_timeout,
                   deadline=settings.harvest_timeout, max_bytes=settings.harvest_max_bytes,
                   min_speed=settings.harvest_min_speed,
                   speed_window=settings.harvest_speed_window,
                   retries=settings.harvest_retries,
                   allow_private=settings.harvest_allow_private)

    @classmethod
    def current(cls) -> FetchPolicy:
        """The running app's policy; outside an app, the one the environment gives."""
        from config.app import current_settings
        from config.settings import load_settings

        try:
            return cls.from_settings(current_settings())
        except RuntimeError:  # no app context (a script, a test of the pipeline alone)
            return cls.from_settings(load_settings())

    def slowest_body_seconds(self, gap: float) -> float:
        """How long a body sending one byte every ``gap`` seconds can hold a fetch:
        the speed check fires at the first read after a full window (a slow body is
        not retried), and a read waits at most ``read_timeout``."""
        return min(self.speed_window + min(gap, self.read_timeout), self.deadline)


_host_locks: dict[str, threading.Lock] = {}
_host_locks_guard = threading.Lock()


def _host_lock(url: str) -> threading.Lock:
    parts = urlsplit(url)
    key = f"{(parts.hostname or '').lower()}:{parts.port or ''}"
    with _host_locks_guard:
        return _host_locks.setdefault(key, threading.Lock())


class HttpBody(io.RawIOBase):
    """A response body read under the policy: deadline, minimum speed, byte caps,
    Content-Encoding (gzip, deflate) undone as a stream. Errors are HarvestError."""

    def __init__(self, response: Response, url: str, policy: FetchPolicy, ends_at: float) -> None:
        super().__init__()
        self._response = response
        self._url = url
        self._policy = policy
        self._ends_at = ends_at
        self.bytes_read = 0  # off the wire
        self._window_start = time.monotonic()
        self._window_bytes = 0
        self._pending = b""  # decoded bytes not handed out yet
        self._done = False
        encoding = (response.header("Content-Encoding") or "identity").strip().lower()
        self._decoder: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        elif encoding not in ("identity", ""):
            raise HarvestError(f"{url}: the server used Content-Encoding {encoding!r}, "
                               "which scenewatch does not read (asked for gzip or identity)")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        while not self._pending and not self._done:
            self._pending = self._next_decoded(size)
        data, self._pending = self._pending[:size], self._pending[size:]
        buffer[: len(data)] = data
        return len(data)

    def _next_decoded(self, size: int) -> bytes:
        if self._decoder is not None and self._decoder.unconsumed_tail:
            # The last chunk expands further: take at most ``size`` more of it.
            return self._decoder.decompress(self._decoder.unconsumed_tail, size)
        chunk = self._read_wire(size)
        if not chunk:
            self._done = True
            return self._decoder.flush() if self._decoder is not None else b""
        if self._decoder is None:
            return chunk
        try:
            return self._decoder.decompress(chunk, size)
        except zlib.error as exc:
            raise HarvestError(f"{self._url}: the compressed response is corrupt ({exc})") from None

    def _read_wire(self, size: int) -> bytes:
        policy = self._policy
        now = time.monotonic()
        left = self._ends_at - now
        if left <= 0:
            raise HarvestError(f"{self._url}: not finished within {policy.deadline:g} s "
                               "(SCENEWATCH_HARVEST_TIMEOUT); abandoned")
        self._response.set_read_timeout(min(policy.read_timeout, left))
        try:
            chunk = self._response.read1(min(size, 1 << 16))
        except TimeoutError:
            if time.monotonic() >= self._ends_at:
                raise HarvestError(f"{self._url}: not finished within {policy.deadline:g} s "
                                   "(SCENEWATCH_HARVEST_TIMEOUT); abandoned") from None
            raise HarvestError(f"{self._url}: no data for {policy.read_timeout:g} s after "
                               f"{self.bytes_read} bytes; abandoned") from None
        except (OSError, http.client.HTTPException) as exc:
            raise HarvestError(f"{self._url}: the connection failed after {self.bytes_read} bytes "
                               f"({exc or type(exc).__name__})") from None
        if not chunk:
            missing = self._response.raw.length
            if missing:  # Content-Length promised more than arrived
                raise HarvestError(f"{self._url}: the connection closed after {self.bytes_read} "
                                   f"bytes, {missing} bytes short of its Content-Length")
            return b""
        self.bytes_read += len(chunk)
        if self.bytes_read > policy.max_bytes:
            raise HarvestError(f"{self._url}: the response is larger than {policy.max_bytes} bytes "
                               "(SCENEWATCH_HARVEST_MAX_BYTES); abandoned")
        self._check_speed(len(chunk))
        return chunk

    def _check_speed(self, count: int) -> None:
        policy = self._policy
        self._window_bytes += count
        elapsed = time.monotonic() - self._window_start
        if elapsed < policy.speed_window:
            return
        if self._window_bytes < policy.min_speed * elapsed:
            raise HarvestError(
                f"{self._url}: the server sent {self._window_bytes} bytes in {elapsed:.0f} s, "
                f"slower than {policy.min_speed} bytes/s; abandoned after {self.bytes_read} bytes")
        self._window_start, self._window_bytes = time.monotonic(), 0


@dataclass
class HttpSnapshot:
    """An opened 200 response: its validators, status, final URL and guarded body."""

    url: str
    status: int
    etag: str | None
    last_modified: str | None
    body: HttpBody

    @property
    def bytes_read(self) -> int:
        return self.body.bytes_read


def request_headers(extra: dict[str, str] | None, etag: str | None,
                    last_modified: str | None) -> dict[str, str]:
    """Ours, the source's own (which may not replace ours), then the conditional ones."""
    headers = {k: v for k, v in (extra or {}).items()
               if k.lower() not in ("user-agent", "accept-encoding", "host", "if-none-match",
                                    "if-modified-since", "content-length", "connection")}
    headers["User-Agent"] = user_agent()
    headers["Accept-Encoding"] = "gzip, deflate"
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _retry_wait(policy: FetchPolicy, attempt: int, retry_after: str | None) -> float:
    wait = policy.backoff * (2 ** attempt) * random.uniform(0.9, 1.1)  # jitter: retries of many sources spread out
    if retry_after and retry_after.strip().isdigit():
        wait = max(wait, min(float(retry_after.strip()), MAX_RETRY_AFTER))
    return wait


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _send(url: str, headers: dict[str, str], policy: FetchPolicy, ends_at: float) -> Response:
    """The first usable response, retrying what is worth retrying within the deadline."""
    attempt, problem = 0, ""
    while True:
        retry_after = None
        try:
            response = open_url(url, headers=headers, allow_private=policy.allow_private,
                                timeout=min(policy.read_timeout, max(0.1, ends_at - time.monotonic())),
                                connect_timeout=policy.connect_timeout, noun="harvest host")
        except TargetRefused as exc:
            if not exc.retryable:
                raise HarvestError(f"could not fetch {url}: {exc}") from None
            problem = str(exc)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            problem = _describe(exc)
        else:
            if response.status not in RETRYABLE_STATUSES:
                return response
            problem = f"HTTP {response.status}"
            retry_after = response.header("Retry-After")
            response.close()
        if attempt >= policy.retries:
            tries = f" after {attempt + 1} attempts" if attempt else ""
            raise HarvestError(f"could not fetch {url}: {problem}{tries}")
        wait = _retry_wait(policy, attempt, retry_after)
        if time.monotonic() + wait >= ends_at:
            raise HarvestError(f"could not fetch {url}: {problem}; no time left to retry within "
                               f"{policy.deadline:g} s (SCENEWATCH_HARVEST_TIMEOUT)")
        time.sleep(wait)
        attempt += 1


@contextmanager
def open_http(url: str, *, headers: dict[str, str] | None = None, etag: str | None = None,
              last_modified: str | None = None,
              policy: FetchPolicy | None = None) -> Iterator[HttpSnapshot]:
    """GET ``url`` politely and yield its body as a guarded stream.

    Raises :class:`NotModified` on a 304 and :class:`HarvestError` (with a message for
    the user) when the source cannot be fetched within the policy.
    """
    policy = policy or FetchPolicy.current()
    ends_at = time.monotonic() + policy.deadline
    lock = _host_lock(url)
    if not lock.acquire(timeout=policy.deadline):
        raise HarvestError(f"could not fetch {url}: another harvest kept its host busy for "
                           f"{policy.deadline:g} s")
    try:
        response = _send(url, request_headers(headers, etag, last_modified), policy, ends_at)
        with response:
            if response.status == 304:
                raise NotModified(304)
            if response.status >= 300:
                raise HarvestError(f"could not fetch {url}: HTTP {response.status}",
                                   http_status=response.status)
            declared = response.header("Content-Length") or ""
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise HarvestError(f"{url}: the response is {declared} bytes, larger than "
                                   f"{policy.max_bytes} bytes (SCENEWATCH_HARVEST_MAX_BYTES)")
            body = HttpBody(response, url, policy, ends_at)
            yield HttpSnapshot(response.url, response.status, response.header("ETag"),
                               response.header("Last-Modified"), body)
    finally:
        lock.release()
