"""One harvest: fetch → read → map → normalise → identify → store + index.

A snapshot that cannot be read at all raises :class:`HarvestError` (recorded on the
Harvest row as an error); a record that cannot be used is quarantined with the
reason and the harvest goes on. Every record read is counted once:
``seen = new + changed + unchanged + quarantined``.
"""
from __future__ import annotations

import gc
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from search import catalog, quality
from search.harvest.ckan import read_ckan
from search.harvest.dcat_json import dcat_records
from search.harvest.dcat_rdf import is_jsonld, rdf_records
from search.harvest.detect import (
    FORMATS,
    JSON_FAMILY,
    UnknownFormat,
    is_dcat,
    looks_like_ckan,
    sniff_format,
)
from search.harvest.fetch import (
    READ_ERRORS,
    NotModified,
    Snapshot,
    decode_text,
    describe_read_error,
    is_url,
    open_location,
    read_all,
)
from search.harvest.identity import Prepared, assign_ids
from search.harvest.portal_csv import read_csv
from search.harvest.portal_json import load_json_values, records_from_values
from search.harvest.portal_xlsx import read_xlsx
from search.harvest.records import HarvestError, SourceRecord
from search.mapping import FieldMapping, MappingError, load_mapping
from search.normalise import RecordError, normalise_record
from search.regions import Path, portal_of

SOURCE_NAME = re.compile(r"^[^\s:]{1,128}$")


@dataclass
class HarvestSummary:
    """What one harvest did (the CLI prints it; ``to_dict`` is its JSON form)."""

    harvest_id: int
    source: str
    location: str
    format: str
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    quarantined: int = 0
    index_failures: list[tuple[str, str]] = field(default_factory=list)
    quality_updated: int = 0  # unchanged datasets whose timeliness moved with the clock
    unmapped_labels: list[str] = field(default_factory=list)  # labels no mapping entry covers
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "ok"  # ok | not_modified | suspect (errors raise HarvestError)
    http_status: int | None = None
    bytes_read: int | None = None
    held_removals: int = 0
    etag: str | None = None  # what the server sent, for the next conditional GET
    last_modified: str | None = None
    # For the scenes that can match them (not printed: a first harvest lists every id).
    changed_ids: list[str] = field(default_factory=list, repr=False)
    removed_ids: list[str] = field(default_factory=list, repr=False)
    mode: str = "full"  # full | incremental (an incremental CKAN pass removes nothing)
    state: dict[str, Any] | None = field(default=None, repr=False)  # for the source to keep

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["index_failures"] = [list(pair) for pair in self.index_failures]
        del data["changed_ids"], data["removed_ids"], data["state"]
        return data


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch a URL source: its extra headers and the validators of the last
    snapshot (a conditional GET when given)."""

    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    state: dict[str, Any] | None = None  # what the harvester kept from the last pass (CKAN)
    full: bool = False  # force a full listing (CKAN)


@dataclass
class _Fetched:
    format: str
    http_status: int | None = None
    bytes_read: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    state: dict[str, Any] | None = None  # for the source, to hand back next time
    partial: bool = False  # an incremental pass: what is missing was not deleted


def _read(location: str, fmt: str,
          fetch: FetchOptions) -> tuple[list[SourceRecord], _Fetched]:
    """Every record of the snapshot at ``location`` and how it was fetched and read."""
    if fmt == "auto" and is_url(location) and looks_like_ckan(location, fetch.headers):
        fmt = "ckan"
    if fmt == "ckan":
        found = read_ckan(location, headers=fetch.headers, state=fetch.state,
                          force_full=fetch.full, full_every=_full_every())
        return found.records, _Fetched("ckan", found.http_status, found.bytes_read,
                                       state=found.state, partial=not found.full)
    with open_location(location, headers=fetch.headers, etag=fetch.etag,
                       last_modified=fetch.last_modified) as snapshot:
        records, kind = _read_snapshot(snapshot, location, fmt)
        return records, _Fetched(kind, snapshot.http_status, snapshot.bytes_read, snapshot.etag,
                                 snapshot.last_modified)


def _read_snapshot(snapshot: Snapshot, location: str, fmt: str) -> tuple[list[SourceRecord], str]:
    """The records of an opened snapshot and the format they were read as."""
    kind = fmt
    if fmt == "auto":
        try:
            kind = sniff_format(snapshot.name, snapshot.head)
        except UnknownFormat as exc:
            raise HarvestError(f"{location}: {exc}") from None
    try:
        if kind in (JSON_FAMILY, "portal-json", "dcat-json"):
            content = read_all(snapshot)
            values = load_json_values(decode_text(content, location), location)
            if kind == JSON_FAMILY and is_jsonld(values):
                return rdf_records(content, "catalog.jsonld", location, _languages()), "dcat-rdf"
            if kind == JSON_FAMILY:
                kind = "dcat-json" if is_dcat(values) else "portal-json"
            if kind == "dcat-json":
                if not is_dcat(values):
                    raise HarvestError(f"{location} is not a DCAT catalog (no list of datasets "
                                       "with identifier and distribution)")
                return list(dcat_records(values)), kind
            return list(records_from_values(values)), kind
        if kind == "portal-csv":
            return list(read_csv(snapshot)), kind
        if kind == "dcat-rdf":
            return rdf_records(read_all(snapshot), snapshot.name, location, _languages()), kind
        return list(read_xlsx(read_all(snapshot), location)), kind
    except READ_ERRORS as exc:
        raise HarvestError(f"cannot read {location}: {describe_read_error(exc)}") from None


def _prepare(records: list[SourceRecord], mapping: FieldMapping, portal: Path, now: datetime,
             bar: Any) -> tuple[list[Prepared], list[tuple[SourceRecord, str]]]:
    prepared: list[Prepared] = []
    rejected: list[tuple[SourceRecord, str]] = []
    for record in records:
        bar.update(1)
        if record.problem:
            rejected.append((record, record.problem))
            continue
        mapped = record.mapped
        if mapped is None:
            if not isinstance(record.raw, dict):
                kind = type(record.raw).__name__
                rejected.append((record, f"record is a JSON {kind}, not an object"))
                continue
            mapped = mapping.apply(record.raw)
            if not mapped:
                labels = ", ".join(str(k) for k in list(record.raw)[:10]) or "none"
                reason = f"none of the record's labels is in the mapping ({labels})"
                rejected.append((record, reason))
                continue
        try:
            doc = normalise_record(mapped, portal)
        except RecordError as exc:
            rejected.append((record, str(exc)))
            continue
        doc["quality"] = quality.assess(doc, now)
        prepared.append(Prepared(record, doc))
    return prepared, rejected


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the duration of a harvest.

    A harvest holds tens of thousands of small long-lived objects; the collector would
    rescan them again and again (it halves throughput) while the harvest creates
    almost no reference cycles. One young-generation collection afterwards frees those.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(0)  # only the objects made meanwhile: a full pass costs far more


def _full_every() -> float:
    from config.app import current_settings

    try:
        return float(current_settings().harvest_full_every)
    except RuntimeError:  # no app context: the default period
        return 24 * 3600.0


def _languages() -> tuple[str, ...]:
    from config.app import current_settings

    try:
        return current_settings().harvest_languages
    except RuntimeError:
        return ("zh", "en")


def _check_arguments(source: str, fmt: str) -> None:
    if not SOURCE_NAME.match(source or ""):
        raise HarvestError(f"bad source name {source!r}: 1 to 128 characters, no spaces or ':'")
    if fmt != "auto" and fmt not in FORMATS:
        raise HarvestError(f"unknown format {fmt!r}; use auto or one of {', '.join(FORMATS)}")


def run_harvest(source: str, location: str, fmt: str = "auto", mapping_path: str | None = None,
                progress: bool = False, now: datetime | None = None, *,
                fetch: FetchOptions | None = None, max_removal: float | None = None,
                trigger: str = "manual") -> HarvestSummary:
    """Apply the full snapshot of ``source`` found at ``location`` (a path or URL).

    ``now`` stamps the datasets and drives timeliness (default: the current time).
    ``fetch`` adds request headers and makes the GET conditional (a 304 gives a
    ``not_modified`` summary and touches nothing); removals beyond ``max_removal``
    (a share of the source's datasets) are held and the harvest is ``suspect``.
    Raises :class:`HarvestError` (with ``harvest_id``) when the snapshot cannot be read.
    """
    _check_arguments(source, fmt)
    with _collector_paused():
        return _run(source, location, fmt, mapping_path, progress, now, fetch or FetchOptions(),
                    max_removal, trigger)


def _not_modified(summary: HarvestSummary, http_status: int | None, clock: float) -> HarvestSummary:
    summary.status, summary.http_status = "not_modified", http_status
    summary.seconds = round(time.perf_counter() - clock, 3)
    catalog.close_harvest(summary.harvest_id, datetime.now(UTC), status="not_modified",
                          http_status=http_status, bytes_read=0)
    return summary


def _run(source: str, location: str, fmt: str, mapping_path: str | None, progress: bool,
         now: datetime | None, fetch: FetchOptions, max_removal: float | None,
         trigger: str) -> HarvestSummary:
    clock = time.perf_counter()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    harvest_id = catalog.open_harvest(source, location, fmt, datetime.now(UTC), trigger)
    summary = HarvestSummary(harvest_id=harvest_id, source=source, location=location, format=fmt)
    fetched = _Fetched(fmt)
    bar = tqdm(total=0, unit="rec", desc=f"{source}: read", disable=not progress, file=sys.stderr,
               leave=True, dynamic_ncols=True)
    try:
        try:
            mapping = load_mapping(mapping_path)
        except MappingError as exc:
            raise HarvestError(str(exc)) from None
        try:
            records, fetched = _read(location, fmt, fetch)
        except NotModified as exc:
            return _not_modified(summary, exc.http_status, clock)
        summary.format = fetched.format
        summary.seen = len(records)
        bar.reset(total=len(records) * 2)
        bar.set_description(f"{source}: normalise")
        prepared, rejected = _prepare(records, mapping, portal_of(source, location), now, bar)
        kept, duplicates = assign_ids(source, prepared)
        rejected.extend(duplicates)
        del records, prepared  # the raw records are not needed past this point
        quarantine = [(r.position, reason, r.raw_text()) for r, reason in rejected]
        catalog.store_quarantine(harvest_id, source, quarantine, now)
        bar.set_description(f"{source}: store + index")
        bar.update(len(rejected))
        result = catalog.apply_snapshot(source, [(p.dataset_id, p.native_id, p.doc) for p in kept],
                                        harvest_id, now, advance=bar.update,
                                        max_removal=max_removal, partial=fetched.partial)
    except HarvestError as exc:
        bar.close()
        catalog.close_harvest(harvest_id, datetime.now(UTC), error=str(exc),
                              http_status=exc.http_status or fetched.http_status,
                              bytes_read=fetched.bytes_read)
        exc.harvest_id = harvest_id
        raise
    except BaseException as exc:
        bar.close()
        catalog.close_harvest(harvest_id, datetime.now(UTC),
                              error=f"unexpected {type(exc).__name__}: {exc}")
        raise
    bar.close()
    summary.new, summary.changed, summary.unchanged = result.new, result.changed, result.unchanged
    summary.removed, summary.quarantined = result.removed, len(rejected)
    accounted = summary.new + summary.changed + summary.unchanged + summary.quarantined
    if accounted != summary.seen:  # every record must land in exactly one count
        summary.warnings.append(f"{summary.seen} records read but {accounted} accounted for")
    summary.index_failures = result.index_failures
    summary.quality_updated = result.quality_updated
    summary.warnings = result.warnings
    summary.unmapped_labels = sorted(mapping.unmapped)
    summary.held_removals = result.held_removals
    summary.status = "suspect" if result.held_removals else "ok"
    summary.changed_ids, summary.removed_ids = result.changed_ids, result.removed_ids
    summary.http_status, summary.bytes_read = fetched.http_status, fetched.bytes_read
    summary.etag, summary.last_modified = fetched.etag, fetched.last_modified
    summary.state, summary.mode = fetched.state, "incremental" if fetched.partial else "full"
    summary.seconds = round(time.perf_counter() - clock, 3)
    catalog.close_harvest(harvest_id, datetime.now(UTC), fmt=summary.format,
                          status=summary.status, http_status=summary.http_status,
                          bytes_read=summary.bytes_read, held_removals=summary.held_removals,
                          seen=summary.seen, new=summary.new, changed=summary.changed,
                          unchanged=summary.unchanged, removed=summary.removed,
                          quarantined=summary.quarantined)
    return summary
