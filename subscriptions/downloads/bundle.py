"""A streaming ZIP of a batch's datasets: the one-click "download the whole batch".

Members, in the order they are written:
- ``datasets.json``: the datasets' full documents (a JSON array);
- ``urls.txt``: every resource URL, one a line;
- ``files/<nnnnn>_<dataset>/<file>``: the resource files, fetched over http(s);
- ``manifest.csv``: one row per resource (or per dataset without any) saying where
  its file is in the archive, its size and digest, or why it is not there.

The archive is produced while it is sent: zipfile writes into a sink that the
generator empties after every write, members carry data descriptors (sizes after
the data), and ZIP64 records appear when sizes need them. What later members need
to know about earlier ones goes to spooled temporary files (memory up to
SPOOL_BYTES, then disk), so memory stays flat whatever the batch size. Each file is
downloaded to a spool before it enters the archive: a file that fails or turns out
too big half-way is left out cleanly, never half-written.
"""
from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import re
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from config.outgoing import TargetRefused as WebhookTargetError
from config.outgoing import TooManyRedirects, open_url
from subscriptions.downloads.exports import Batch, csv_cell, iter_documents, json_array

MAX_FILE_BYTES = 100 * 1024 * 1024  # one resource file
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # all resource files of one archive
FILE_TIMEOUT = 60.0  # seconds for one file, connect to last byte
TIME_BUDGET = 600.0  # seconds for all files of one archive
STALL_TIMEOUT = 15.0  # a server silent this long has failed
CONNECT_TIMEOUT = 10.0
MAX_REDIRECTS = 5
READ_BYTES = 64 * 1024
SPOOL_BYTES = 1024 * 1024
USER_AGENT = "scenewatch-bundle/1 (+batch download of a saved search)"
MANIFEST_HEADER = (
    "dataset_id", "title", "publisher", "region", "formats", "modified", "landing_page",
    "resource_count", "resource_name", "resource_format", "url", "path", "bytes",
    "status", "reason", "sha256",
)
UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


@dataclass(frozen=True)
class BundleLimits:
    """Caps on what one archive fetches; defaults are the module constants."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = MAX_TOTAL_BYTES
    file_timeout: float = FILE_TIMEOUT
    time_budget: float = TIME_BUDGET
    stall_timeout: float = STALL_TIMEOUT


@dataclass
class Fetched:
    """What happened to one resource file."""

    status: str  # ok | skipped | failed
    reason: str = ""
    size: int = 0
    sha256: str = ""
    spool: IO[bytes] | None = None


class _Sink(io.RawIOBase):
    """A write-only stream that keeps what zipfile writes until the generator takes it."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _entry(name: str, compress: bool = True) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _safe_name(text: str, limit: int = 80) -> str:
    """``text`` usable as a file name on Windows, macOS and Linux."""
    text = unicodedata.normalize("NFC", text)
    text = UNSAFE_NAME.sub("_", text).strip(" .")
    return text[:limit].rstrip(" .") or "_"


def _file_name(resource: dict[str, Any], taken: set[str]) -> str:
    """A name for a resource file: the URL's file name when it has an extension,
    else the resource's name plus its format; made unique within its dataset."""
    try:
        url_name = unquote(urlsplit(str(resource.get("url") or "")).path.rsplit("/", 1)[-1])
    except ValueError:
        url_name = ""
    fmt = _safe_name(str(resource.get("format") or "").lower().strip(". "), 10)
    url_ext = url_name.rpartition(".")[2].lower() if "." in url_name.strip(".") else ""
    # "export.php" or "download.do" says nothing: keep the URL's name only when its
    # extension agrees with the declared format (or no format is declared).
    if url_ext and (fmt == "_" or url_ext == fmt):
        name = _safe_name(url_name, 120)
    else:
        name = _safe_name(str(resource.get("name") or url_name or "resource"), 100)
        if fmt != "_" and not name.lower().endswith("." + fmt):
            name = f"{name}.{fmt}"
    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}-{n}.{ext}" if dot and stem else f"{name}-{n}"
    taken.add(candidate.lower())
    return candidate


def _ssrf_reason(exc: WebhookTargetError) -> str:
    message = str(exc).removesuffix("; refused")
    return message if exc.retryable else f"refused: {message}"  # retryable = DNS trouble


class Fetcher:
    """Downloads resource files within the archive's caps. Every connection (redirect
    hops too) resolves, checks and connects to the checked address
    (:mod:`config.outgoing`), so a refused address is never connected to."""

    def __init__(self, limits: BundleLimits, allow_private: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.allow_private = allow_private
        self.clock = clock
        self.deadline = clock() + limits.time_budget
        self.used = 0

    def fetch(self, url: str) -> Fetched:
        """Download ``url`` to a spool, or say why not. Never raises."""
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            return Fetched("failed", "not a valid URL")
        if scheme not in ("http", "https"):
            return Fetched("skipped", "not an http(s) URL")
        if self.clock() >= self.deadline:
            return Fetched("skipped", f"time budget of {self.limits.time_budget:g} s used up")
        room = self.limits.max_total_bytes - self.used
        if room <= 0:
            return Fetched("skipped", self._total_cap_reason())
        now = self.clock()
        file_deadline = min(now + self.limits.file_timeout, self.deadline)
        # Also the socket timeout: how long one read may wait for the server.
        wait = max(0.1, min(self.limits.stall_timeout, file_deadline - now))
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        try:
            cap = min(self.limits.max_file_bytes, room)
            result = self._download(url, cap, file_deadline, wait, spool)
        except TooManyRedirects:
            result = Fetched("failed", f"more than {MAX_REDIRECTS} redirects")
        except WebhookTargetError as exc:  # refused before connecting (redirect hops too)
            result = Fetched("failed", _ssrf_reason(exc))
        except TimeoutError:
            result = Fetched("failed", f"no answer within {wait:g} s")
        except (OSError, http.client.HTTPException) as exc:
            result = Fetched("failed", f"could not download: {exc or type(exc).__name__}"[:300])
        except Exception as exc:  # noqa: BLE001 - one bad file must not break the archive
            result = Fetched("failed", f"{type(exc).__name__}: {exc}"[:300])
        if result.status == "ok":
            self.used += result.size
            spool.seek(0)
            result.spool = spool
        else:
            spool.close()
        return result

    def _download(self, url: str, cap: int, file_deadline: float, wait: float,
                  spool: IO[bytes]) -> Fetched:
        limits = self.limits
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        with open_url(url, headers=headers, allow_private=self.allow_private, timeout=wait,
                      connect_timeout=min(CONNECT_TIMEOUT, wait), max_redirects=MAX_REDIRECTS,
                      noun="host") as response:
            if response.status != 200:
                return Fetched("failed", f"HTTP {response.status}")
            declared = response.header("Content-Length") or ""
            if declared.isdigit() and int(declared) > cap:
                return self._too_big(f"{declared} bytes", int(declared) > limits.max_file_bytes)
            digest = hashlib.sha256()
            size = 0
            while True:
                # read1 returns what one socket read brought, so the deadline is
                # checked at least every ``wait`` seconds even if a server trickles.
                chunk = response.read1(READ_BYTES)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    return self._too_big(f"more than {cap} bytes", cap == limits.max_file_bytes)
                if self.clock() > file_deadline:
                    return self._late(file_deadline)
                digest.update(chunk)
                spool.write(chunk)
        return Fetched("ok", "", size, digest.hexdigest())

    def _too_big(self, seen: str, per_file: bool) -> Fetched:
        if per_file:
            return Fetched("skipped", f"{seen}: over the per-file size cap of "
                                      f"{self.limits.max_file_bytes} bytes")
        return Fetched("skipped", f"{seen}: {self._total_cap_reason()}")

    def _total_cap_reason(self) -> str:
        return f"total size cap of {self.limits.max_total_bytes} bytes reached"

    def _late(self, file_deadline: float) -> Fetched:
        if file_deadline >= self.deadline:
            return Fetched("skipped", f"time budget of {self.limits.time_budget:g} s used up")
        return Fetched("failed", f"not finished within {self.limits.file_timeout:g} s")


def _plan_line(number: int, dataset_id: str, doc: dict[str, Any] | None) -> bytes:
    """What later passes need about one dataset: manifest columns and its resources."""
    if doc is None:
        entry: dict[str, Any] = {"n": number, "id": dataset_id, "missing": True}
    else:
        entry = {
            "n": number, "id": dataset_id,
            "row": [doc.get("title"), doc.get("publisher"), doc.get("region"),
                    ", ".join(str(f) for f in doc.get("formats") or []), doc.get("modified"),
                    doc.get("landing_page")],
            "resources": [{k: r.get(k) for k in ("name", "format", "url")}
                          for r in doc.get("resources") or [] if isinstance(r, dict)],
        }
    return (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")


def _plan(spool: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The entries written by _plan_line, in order."""
    spool.seek(0)
    for line in spool:
        yield json.loads(line)


def _csv_line(row: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([csv_cell(v) for v in row])
    return out.getvalue()


def stream_bundle(batch: Batch, *, allow_private: bool = False,
                  max_file_bytes: int = MAX_FILE_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES,
                  file_timeout: float = FILE_TIMEOUT, time_budget: float = TIME_BUDGET,
                  stall_timeout: float = STALL_TIMEOUT,
                  clock: Callable[[], float] = time.monotonic) -> Iterator[bytes]:
    """The ZIP archive of ``batch``, in chunks, fetching resource files as it goes.

    ``allow_private`` lets files come from private addresses (tests, intranets).
    """
    limits = BundleLimits(max_file_bytes, max_total_bytes, file_timeout, time_budget, stall_timeout)
    sink = _Sink()
    # plan: every dataset; to_fetch: only those with resources; results: one line per
    # resource of to_fetch, in order, so the manifest can pair them up again.
    plan = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    to_fetch = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    urls = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    results = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            # Generated members have no size cap: ZIP64 headers keep them valid past 4 GiB.
            with archive.open(_entry("datasets.json"), "w", force_zip64=True) as out:
                for piece in json_array(_documents_to_plan(batch, plan, to_fetch, urls)):
                    out.write(piece.encode("utf-8"))
                    if data := sink.drain():
                        yield data
            with archive.open(_entry("urls.txt"), "w", force_zip64=True) as out:
                urls.seek(0)
                while block := urls.read(READ_BYTES):
                    out.write(block)
                    if data := sink.drain():
                        yield data
            fetcher = Fetcher(limits, allow_private, clock)
            yield from _write_files(archive, sink, to_fetch, results, fetcher)
            with archive.open(_entry("manifest.csv"), "w", force_zip64=True) as out:
                out.write(("\ufeff" + _csv_line(list(MANIFEST_HEADER))).encode("utf-8"))
                for line in _manifest_lines(plan, results):
                    out.write(line.encode("utf-8"))
                    if data := sink.drain():
                        yield data
        if data := sink.drain():
            yield data
    finally:
        for spool in (plan, to_fetch, urls, results):
            spool.close()


def _documents_to_plan(batch: Batch, plan: IO[bytes], to_fetch: IO[bytes],
                       urls: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The batch's documents for datasets.json, noting each dataset in ``plan`` (and
    in ``to_fetch`` when it has resources) and its resource URLs in ``urls``."""
    for number, (dataset_id, doc) in enumerate(iter_documents(batch), start=1):
        line = _plan_line(number, dataset_id, doc)
        plan.write(line)
        if doc is None:
            continue
        if doc.get("resources"):
            to_fetch.write(line)
        for resource in doc.get("resources") or []:
            if not isinstance(resource, dict):
                continue
            url = " ".join(str(resource.get("url") or "").split())
            if url:
                urls.write((url + "\n").encode("utf-8"))
        yield doc


def _write_files(archive: zipfile.ZipFile, sink: _Sink, to_fetch: IO[bytes],
                 results: IO[bytes], fetcher: Fetcher) -> Iterator[bytes]:
    """Fetch every resource into ``files/``; one result line per resource in ``results``."""
    big = fetcher.limits.max_file_bytes >= zipfile.ZIP64_LIMIT
    for entry in _plan(to_fetch):
        taken: set[str] = set()
        folder = f"files/{entry['n']:05d}_{_safe_name(entry['id'], 60)}"
        for resource in entry.get("resources") or []:
            url = str(resource.get("url") or "").strip()
            fetched = fetcher.fetch(url) if url else Fetched("skipped", "no URL")
            path = ""
            if fetched.spool is not None:
                path = f"{folder}/{_file_name(resource, taken)}"
                with fetched.spool, archive.open(_entry(path), "w", force_zip64=big) as out:
                    while chunk := fetched.spool.read(READ_BYTES):
                        out.write(chunk)
                        if data := sink.drain():
                            yield data
            outcome = {"path": path, "bytes": fetched.size if path else None,
                       "status": fetched.status, "reason": fetched.reason, "sha256": fetched.sha256}
            results.write((json.dumps(outcome, ensure_ascii=False) + "\n").encode("utf-8"))
        if data := sink.drain():
            yield data


def _manifest_lines(plan: IO[bytes], results: IO[bytes]) -> Iterator[str]:
    """manifest.csv rows; ``results`` holds one line per resource, in plan order."""
    results.seek(0)
    for entry in _plan(plan):
        if entry.get("missing"):
            yield _csv_line([entry["id"], "", "", "", "", "", "", 0, "", "", "", "", "",
                             "missing", "no longer in the catalog", ""])
            continue
        resources = entry.get("resources") or []
        head = [entry["id"], *entry["row"], len(resources)]
        if not resources:
            yield _csv_line(head + ["", "", "", "", "", "no resources", "", ""])
        for resource in resources:
            got = json.loads(results.readline())
            described = [resource.get("name"), resource.get("format"), resource.get("url")]
            outcome = [got[k] for k in ("path", "bytes", "status", "reason", "sha256")]
            yield _csv_line(head + described + outcome)
