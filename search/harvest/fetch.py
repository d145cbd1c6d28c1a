"""Opening a snapshot: a local path or an http(s) URL, plain or gzip, read as a stream.

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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

import requests

from search.harvest.records import HarvestError

GZIP_MAGIC = b"\x1f\x8b"
HEAD_SIZE = 65536
CONNECT_TIMEOUT = 15
READ_TIMEOUT = 120

# Everything reading a stream can raise on a corrupt file or a dropped connection.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, zlib.error, requests.RequestException, UnicodeDecodeError,
)
try:  # urllib3 raises its own errors from a streamed response body
    from urllib3.exceptions import HTTPError as _Urllib3Error

    READ_ERRORS = READ_ERRORS + (_Urllib3Error,)
except ImportError:  # pragma: no cover - requests always brings urllib3
    pass


@dataclass
class Snapshot:
    """An opened snapshot: the decompressed byte stream, its name and first bytes.

    For a URL, also what the response said: status, ``ETag`` and ``Last-Modified``
    (stored per source for the next conditional GET); ``counter`` counts the bytes
    read off the wire or disk so far.
    """

    stream: IO[bytes]
    name: str  # file name without a trailing .gz, lower-cased (for format detection)
    head: bytes  # the first bytes of the decompressed content (still in ``stream``)
    location: str
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    counter: "_Counting | None" = None

    @property
    def bytes_read(self) -> int | None:
        return self.counter.count if self.counter is not None else None


class NotModified(Exception):
    """The server answered 304 to a conditional GET: the snapshot is unchanged."""

    def __init__(self, http_status: int = 304) -> None:
        super().__init__("not modified")
        self.http_status = http_status


class _Counting(io.RawIOBase):
    """Counts the bytes read through it (what the harvest row reports as bytes)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
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

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
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


def request_headers(extra: Mapping[str, str] | None, etag: str | None,
                    last_modified: str | None) -> dict[str, str]:
    """The headers of a harvest GET: ours, the source's own, and the conditional ones."""
    headers = {"User-Agent": "scenewatch-harvester"}
    headers.update(extra or {})
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


@contextmanager
def open_location(location: str, *, headers: Mapping[str, str] | None = None,
                  etag: str | None = None, last_modified: str | None = None) -> Iterator[Snapshot]:
    """Open ``location`` for streaming; raise :class:`HarvestError` if it cannot be opened.

    For a URL, ``etag``/``last_modified`` make the GET conditional: a 304 raises
    :class:`NotModified` before anything is read. ``headers`` are sent as well.
    """
    response = None
    status = new_etag = new_modified = None
    if is_url(location):
        try:
            response = requests.get(location, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                                    headers=request_headers(headers, etag, last_modified))
        except requests.RequestException as exc:
            raise HarvestError(f"could not fetch {location}: {exc}") from exc
        status = response.status_code
        if status == 304:
            response.close()
            raise NotModified(status)
        if status >= 400:
            response.close()
            raise HarvestError(f"could not fetch {location}: HTTP {status}")
        new_etag = response.headers.get("ETag")
        new_modified = response.headers.get("Last-Modified")
        response.raw.decode_content = True  # undo Content-Encoding, keep file-level gzip
        response.raw.auto_close = False  # EOF reads return b"" instead of failing on a closed body
        counter = _Counting(response.raw)  # type: ignore[arg-type]
        raw: IO[bytes] = io.BufferedReader(counter, 1 << 16)  # type: ignore[arg-type]
        name = unquote(Path(urlparse(location).path).name)
    else:
        path = Path(location).expanduser()
        if not path.exists():
            raise HarvestError(f"no such file: {location}")
        if path.is_dir():
            raise HarvestError(f"{location} is a directory, not a catalog file")
        try:
            counter = _Counting(path.open("rb"))
            raw = io.BufferedReader(counter, 1 << 16)  # type: ignore[arg-type]
        except OSError as exc:
            raise HarvestError(f"cannot open {location}: {exc.strerror or exc}") from exc
        name = path.name
    try:
        try:
            magic = _read_head_bytes(raw, 2)
            stream: IO[bytes] = _Prefixed(magic, raw)  # type: ignore[assignment]
            stream = io.BufferedReader(stream, 1 << 16)  # type: ignore[arg-type]
            if magic == GZIP_MAGIC:
                stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
            head = _read_head(stream)
        except READ_ERRORS as exc:
            raise HarvestError(f"cannot read {location}: {_describe(exc)}") from exc
        lowered = name.lower()
        if lowered.endswith(".gz"):
            lowered = lowered[:-3]
        full = io.BufferedReader(_Prefixed(head, stream), 1 << 16)
        yield Snapshot(stream=full, name=lowered, head=head, location=location, http_status=status,
                       etag=new_etag, last_modified=new_modified, counter=counter)
    finally:
        raw.close()
        if response is not None:
            response.close()


def _read_head_bytes(stream: IO[bytes], count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_all(snapshot: Snapshot) -> bytes:
    """The whole decompressed content (JSON and XLSX readers need it at once)."""
    try:
        return snapshot.stream.read()
    except READ_ERRORS as exc:
        raise HarvestError(f"cannot read {snapshot.location}: {_describe(exc)}") from exc


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
