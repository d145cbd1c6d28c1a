"""Opening a snapshot: a local path or an http(s) URL, plain or gzip, read as a stream.

URLs are fetched by :mod:`search.harvest.http` (conditional GET, timeouts, retries,
caps, the address policy); whatever the origin, what a snapshot expands to is capped.

Whether a file is gzip is decided by its first two bytes, not its name: portals serve
``.json`` files gzipped and ``.gz`` names that are not. Text encodings are detected
from a sample (UTF-8, UTF-8 with BOM, UTF-16 with BOM, else GB18030, the superset of
GBK that Chinese portals export by default).
"""
from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

from search.harvest.http import FetchPolicy, NotModified, open_http
from search.harvest.records import HarvestError

__all__ = [
    "READ_ERRORS", "NotModified", "Snapshot", "decode_text", "describe_read_error", "is_url",
    "open_location", "read_all", "text_encoding",
]

GZIP_MAGIC = b"\x1f\x8b"
HEAD_SIZE = 65536
READ_BLOCK = 1 << 20

# Everything reading a stream can raise on a corrupt file or a dropped connection.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, zlib.error, UnicodeDecodeError,
)


@dataclass
class Snapshot:
    """An opened snapshot: the decompressed byte stream, its name and first bytes.

    For a URL, also what the response said: status, ``ETag`` and ``Last-Modified``
    (stored per source for the next conditional GET); ``bytes_read`` counts the bytes
    read off the wire (or the disk) so far.
    """

    stream: IO[bytes]
    name: str  # file name without a trailing .gz, lower-cased (for format detection)
    head: bytes  # the first bytes of the decompressed content (still in ``stream``)
    location: str
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    counter: _Counting | None = None

    @property
    def bytes_read(self) -> int | None:
        return self.counter.on_the_wire() if self.counter is not None else None


class _Counting(io.RawIOBase):
    """Counts the bytes read through it; past ``limit`` it raises :class:`HarvestError`
    (what a snapshot expands to is capped while it streams, not after)."""

    def __init__(self, raw: IO[bytes], limit: int | None = None, what: str = "") -> None:
        super().__init__()
        self._raw = raw
        self.count = 0
        self._limit = limit
        self._what = what

    def readable(self) -> bool:
        return True

    def on_the_wire(self) -> int:
        """Bytes received: before Content-Encoding is undone, when the stream knows."""
        return int(getattr(self._raw, "bytes_read", self.count))

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        if self._limit is not None and self.count > self._limit:
            raise HarvestError(f"{self._what} is larger than {self._limit} bytes "
                               "(SCENEWATCH_HARVEST_MAX_BYTES); abandoned")
        return len(data)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


class _Prefixed(io.RawIOBase):
    """A stream that first replays ``prefix`` and then continues with ``rest``."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _read_head(stream: IO[bytes]) -> bytes:
    head = b""
    while len(head) < HEAD_SIZE:  # compressed and network streams return short reads
        chunk = stream.read(HEAD_SIZE - len(head))
        if not chunk:
            break
        head += chunk
    return head


@contextmanager
def open_location(location: str, *, headers: Mapping[str, str] | None = None,
                  etag: str | None = None, last_modified: str | None = None,
                  policy: FetchPolicy | None = None) -> Iterator[Snapshot]:
    """Open ``location`` for streaming; raise :class:`HarvestError` if it cannot be opened.

    A URL is fetched politely under ``policy`` (default: the app's settings), see
    :mod:`search.harvest.http`; ``etag``/``last_modified`` make the GET conditional and
    a 304 raises :class:`NotModified` before anything is read; ``headers`` are the
    source's own. What a snapshot expands to (gzip) is capped at the policy's
    ``max_bytes`` for files and URLs alike. For a file, ``etag`` is compared with
    :func:`file_validator` (NotModified when equal: the file is not read).
    """
    policy = policy or FetchPolicy.current()
    with ExitStack() as stack:
        status = new_etag = new_modified = None
        if is_url(location):
            fetched = stack.enter_context(open_http(
                location, headers=dict(headers or {}), etag=etag, last_modified=last_modified,
                policy=policy))
            status, new_etag, new_modified = fetched.status, fetched.etag, fetched.last_modified
            counter = _Counting(fetched.body)  # type: ignore[arg-type]
            name = unquote(Path(urlparse(fetched.url).path).name)
        else:
            path = Path(location).expanduser()
            if not path.exists():
                raise HarvestError(f"no such file: {location}")
            if path.is_dir():
                raise HarvestError(f"{location} is a directory, not a catalog file")
            new_etag = file_validator(path)
            if etag and etag == new_etag:
                raise NotModified(None)
            try:
                counter = _Counting(path.open("rb"))
            except OSError as exc:
                raise HarvestError(f"cannot open {location}: {exc.strerror or exc}") from exc
            name = path.name
        raw: IO[bytes] = stack.enter_context(io.BufferedReader(counter, 1 << 16))
        try:
            magic = _read_head_bytes(raw, 2)
            stream: IO[bytes] = _Prefixed(magic, raw)  # type: ignore[assignment]
            stream = io.BufferedReader(stream, 1 << 16)  # type: ignore[arg-type,type-var]
            if magic == GZIP_MAGIC:
                stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
            # The cap on what the snapshot expands to, checked as it streams.
            stream = _Counting(stream, policy.max_bytes, location)  # type: ignore[assignment]
            head = _read_head(stream)
        except READ_ERRORS as exc:
            raise HarvestError(f"cannot read {location}: {_describe(exc)}") from exc
        lowered = name.lower().removesuffix(".gz")
        full = io.BufferedReader(_Prefixed(head, stream), 1 << 16)
        yield Snapshot(stream=full, name=lowered, head=head, location=location, http_status=status,
                       etag=new_etag, last_modified=new_modified, counter=counter)


def file_validator(path: Path) -> str:
    """A local file's stand-in for an ETag: size, modification time and inode (what
    make and rsync trust); a file rewritten or replaced gets a new one."""
    stat = path.stat()
    return f'file:"{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ino}"'


def _read_head_bytes(stream: IO[bytes], count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_all(snapshot: Snapshot) -> bytes:
    """The whole decompressed content (JSON and XLSX readers need it at once).

    Read in blocks into one growing buffer: ``stream.read()`` would gather a list of
    blocks and join them, holding the content twice at the end.
    """
    content = bytearray()
    try:
        while block := snapshot.stream.read(READ_BLOCK):
            content += block
    except READ_ERRORS as exc:
        raise HarvestError(f"cannot read {snapshot.location}: {_describe(exc)}") from exc
    return content  # type: ignore[return-value]  # bytes-like; a copy would double the peak


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (EOFError, gzip.BadGzipFile, zlib.error)):
        return f"the file is truncated or not valid gzip ({exc})"
    return str(exc) or exc.__class__.__name__


def describe_read_error(exc: BaseException) -> str:
    """A user-facing description of a read error (used by streaming readers)."""
    return _describe(exc)


def text_encoding(sample: bytes) -> str:
    """The encoding of a text sample: utf-8-sig, utf-16, utf-8 or gb18030."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        # final=False: a sample cut in the middle of a character is still UTF-8.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def decode_text(data: bytes, location: str) -> str:
    """Decode a whole document with the detected encoding."""
    encoding = text_encoding(data[:HEAD_SIZE])
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        if encoding == "utf-8":
            # The sample was UTF-8 (often plain ASCII) but the rest is not.
            try:
                return data.decode("gb18030")
            except UnicodeDecodeError:
                pass
        raise HarvestError(f"{location} is neither UTF-8 nor GB18030 text") from None
