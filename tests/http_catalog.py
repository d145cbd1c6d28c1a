"""A real HTTP server for tests: a portal serving catalog files on 127.0.0.1.

It serves files from a directory (or bytes/files put at a path), answers conditional
requests like a well-behaved portal (strong ``ETag``, ``Last-Modified``,
``If-None-Match`` / ``If-Modified-Since`` → 304), lets a test swap what a path serves
(the portal publishing its next snapshot), and logs every request so a test can assert
which URLs, query parameters and conditional headers arrived. A path can also be routed
to a function (a fake API such as CKAN's ``package_search``) or made to fail a few times.

Usage::

    with HttpCatalog(directory) as portal:
        url = portal.url("zhejiang_hangzhou.json")
        ...harvest url...
        portal.put("zhejiang_hangzhou.json", next_snapshot_path)
        ...harvest again...
        assert portal.requests_for("/zhejiang_hangzhou.json")[-1].headers["if-none-match"]
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 64 * 1024


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0
    at: float = 0.0
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    """What a routed handler answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[LoggedRequest], Reply]


@dataclass
class _Entry:
    """What one path serves: bytes in memory or a file on disk, with its validators."""

    data: bytes | None
    file: Path | None
    etag: str
    last_modified: float  # seconds since the epoch, whole seconds
    content_type: str

    def size(self) -> int:
        return len(self.data) if self.data is not None else self.file.stat().st_size  # type: ignore[union-attr]

    def chunks(self) -> Iterator[bytes]:
        if self.data is not None:
            for start in range(0, len(self.data), CHUNK):
                yield self.data[start:start + CHUNK]
            return
        with self.file.open("rb") as handle:  # type: ignore[union-attr]
            while block := handle.read(CHUNK):
                yield block


def _file_etag(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return f'"{digest.hexdigest()[:32]}"'


class HttpCatalog:
    """The server. ``etag`` / ``last_modified`` switch the validators it sends."""

    def __init__(self, directory: Path | str | None = None, *, etag: bool = True,
                 last_modified: bool = True, gzip_encoding: bool = False) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.send_etag = etag
        self.send_last_modified = last_modified
        self.gzip_encoding = gzip_encoding  # Content-Encoding: gzip when the client accepts it
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._routes: dict[str, Route] = {}
        self._failures: dict[str, list[int]] = {}
        self._clock_floor = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"catalog": self})
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-catalog",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        """The full URL of ``path`` (relative to the served root)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    # -- what is served ---------------------------------------------------------------
    def put(self, path: str, content: bytes | str | Path, *, content_type: str | None = None) -> None:
        """Serve ``content`` (bytes, or a file's contents) at ``path`` from now on.

        The new ETag is the content's digest; Last-Modified moves forward by at least a
        second, so a client that only sends If-Modified-Since sees the change too.
        """
        key = _normal(path)
        if isinstance(content, (str, Path)):
            file: Path | None = Path(content)
            data = None
            etag = _file_etag(Path(content))
        else:
            file, data = None, bytes(content)
            etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
        with self._lock:
            stamp = max(float(int(time.time())), self._clock_floor + 1)
            self._clock_floor = stamp
            guessed = mimetypes.guess_type(key)[0] or "application/octet-stream"
            self._entries[key] = _Entry(data, file, etag, stamp, content_type or guessed)

    def remove(self, path: str) -> None:
        """Stop serving ``path`` (404 from now on, unless the directory has it)."""
        with self._lock:
            self._entries.pop(_normal(path), None)

    def route(self, path: str, handler: Route) -> None:
        """Answer requests for ``path`` (any query) with ``handler(request)``."""
        with self._lock:
            self._routes[_normal(path)] = handler

    def fail_next(self, path: str, *statuses: int) -> None:
        """The next requests for ``path`` get these statuses (one each), then normal service."""
        with self._lock:
            self._failures.setdefault(_normal(path), []).extend(statuses)

    # -- what arrived -----------------------------------------------------------------
    def requests_for(self, path: str) -> list[LoggedRequest]:
        """The logged requests for ``path`` (any query), oldest first."""
        key = _normal(path)
        with self._lock:
            return [r for r in self.log if r.path == key]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # -- used by the handler ----------------------------------------------------------
    def _lookup(self, key: str) -> tuple[_Entry | None, Route | None, int | None]:
        with self._lock:
            failures = self._failures.get(key)
            failure = failures.pop(0) if failures else None
            entry = self._entries.get(key)
            route = self._routes.get(key)
        if failure is not None or route is not None or entry is not None:
            return entry, route, failure
        return self._from_directory(key), None, None

    def _from_directory(self, key: str) -> _Entry | None:
        if self.directory is None:
            return None
        root = self.directory.resolve()
        candidate = (root / key.lstrip("/")).resolve()
        if root not in candidate.parents or not candidate.is_file():
            return None
        stat = candidate.stat()
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        return _Entry(None, candidate, etag, float(int(stat.st_mtime)), content_type)

    def _record(self, request: LoggedRequest) -> None:
        with self._lock:
            self.log.append(request)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-answer are expected here (a harvest abandoning a body)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _normal(path: str) -> str:
    return "/" + unquote(path).lstrip("/")


def _not_modified(entry: _Entry, headers: dict[str, str], catalog: HttpCatalog) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if not catalog.send_etag:
            return False
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or entry.etag in tags
    since = headers.get("if-modified-since")
    if since and catalog.send_last_modified:
        try:
            return entry.last_modified <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
    return False


class _Handler(BaseHTTPRequestHandler):
    catalog: HttpCatalog
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_POST(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        parts = urlsplit(self.path)
        key = _normal(parts.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = LoggedRequest(self.command, key, parse_qs(parts.query, keep_blank_values=True),
                                headers, at=time.time(), body=body)
        entry, route, failure = self.catalog._lookup(key)
        if failure is not None:
            self._reply(request, Reply(failure, f"failing on purpose: {failure}\n".encode()), head)
        elif route is not None:
            self._reply(request, route(request), head)
        elif entry is None:
            self._reply(request, Reply(404, b"not found\n"), head)
        else:
            self._send_entry(request, entry, headers, head)

    def _validators(self, entry: _Entry) -> dict[str, str]:
        out = {}
        if self.catalog.send_etag:
            out["ETag"] = entry.etag
        if self.catalog.send_last_modified:
            out["Last-Modified"] = formatdate(entry.last_modified, usegmt=True)
        return out

    def _send_entry(self, request: LoggedRequest, entry: _Entry, headers: dict[str, str],
                    head: bool) -> None:
        if _not_modified(entry, headers, self.catalog):
            self._log(request, 304)
            self.send_response(304)
            for name, value in self._validators(entry).items():
                self.send_header(name, value)
            self.end_headers()
            return
        encode = self.catalog.gzip_encoding and "gzip" in headers.get("accept-encoding", "")
        self._log(request, 200)
        self.send_response(200)
        self.send_header("Content-Type", entry.content_type)
        for name, value in self._validators(entry).items():
            self.send_header(name, value)
        if encode:
            body = gzip.compress(b"".join(entry.chunks()))
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self._write(body)
            return
        self.send_header("Content-Length", str(entry.size()))
        self.end_headers()
        if not head:
            for block in entry.chunks():
                if not self._write(block):
                    return

    def _reply(self, request: LoggedRequest, reply: Reply, head: bool) -> None:
        self._log(request, reply.status)
        self.send_response(reply.status)
        names = {k.lower() for k in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json" if reply.body[:1] in (b"{", b"[")
                             else "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if not head and reply.status != 304:
            self._write(reply.body)

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            self.close_connection = True
            return False

    def _log(self, request: LoggedRequest, status: int) -> None:
        self.catalog._record(LoggedRequest(request.method, request.path, request.query,
                                           request.headers, status, request.at, request.body))
