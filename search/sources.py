"""Sources: registered portals (name, location, format, schedule, headers), in one place.

A source's ``name`` is the id prefix of its datasets. Schedules are the scene presets,
a 5-field cron expression in a time zone, or ``manual``. Extra request headers are
stored as given and only ever shown masked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from search.harvest.detect import FORMATS
from search.harvest.pipeline import SOURCE_NAME
from search.models import Dataset, Harvest, QuarantinedRecord, Source
from subscriptions.errors import FieldProblem
from subscriptions.schedule import (
    MANUAL,
    ScheduleError,
    check_timezone,
    next_run_after,
    normalise_schedule,
)

SOURCE_FORMATS: tuple[str, ...] = ("auto", *FORMATS)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")  # an RFC 9110 token
# Headers the harvester sets itself; a source may not override them.
RESERVED_HEADERS = frozenset({"host", "content-length", "if-none-match", "if-modified-since",
                              "transfer-encoding", "connection"})
# A harvest that died without releasing its lease frees the source after this long.
HARVEST_LEASE = timedelta(hours=1)


class SourceError(FieldProblem):
    """A source setting that cannot be used, naming its field."""


class SourceNotFound(LookupError):
    """No source with that name."""


class SourceBusy(RuntimeError):
    """The source is being harvested right now (one harvest per source at a time)."""


def check_name(name: str) -> str:
    """The source name, or SourceError: 1–128 characters, no spaces or ':'."""
    value = (name or "").strip()
    if not SOURCE_NAME.match(value):
        raise SourceError("name", f"{name!r}: 1 to 128 characters, no spaces or ':'")
    return value


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` → (name, value); SourceError naming the header otherwise."""
    name, sep, value = (text or "").partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not HEADER_NAME.match(name):
        raise SourceError("header", f"{text!r} is not 'Name: value'")
    if name.lower() in RESERVED_HEADERS:
        raise SourceError("header", f"{name} is set by the harvester and cannot be overridden")
    if any(ch in value for ch in "\r\n\0"):
        raise SourceError("header", f"the value of {name} contains a line break")
    return name, value


def mask(value: str) -> str:
    """A secret shown back: its last 4 characters at most, and only when it is long."""
    if len(value) < 12:
        return "****"
    return "****" + value[-4:]


def masked_headers(headers: dict[str, Any]) -> dict[str, str]:
    """The source's extra headers with every value masked."""
    return {name: mask(str(value)) for name, value in (headers or {}).items()}


def check_schedule(schedule: str, tz_name: str, now: datetime) -> tuple[str, datetime | None]:
    """The normalised schedule and the next harvest time (None for manual)."""
    try:
        check_timezone(tz_name)
        text = normalise_schedule(schedule)
        if text == "on-change":
            raise ScheduleError("schedule", "on-change is for scenes; a source needs a clock")
        return text, next_run_after(text, tz_name, now)
    except ScheduleError as exc:
        raise SourceError(exc.field, exc.message) from None


@dataclass
class SourceSpec:
    """What ``sources add`` takes."""

    name: str
    location: str
    format: str = "auto"
    mapping_path: str | None = None
    schedule: str = MANUAL
    timezone: str = "UTC"
    headers: tuple[str, ...] = ()


def check_url_location(location: str) -> None:
    """Refuse a URL the harvester would refuse (production: private addresses), now
    rather than at the first harvest. A name that does not resolve yet is accepted."""
    from config.outgoing import Target, TargetRefused, checked_addresses
    from search.harvest.http import FetchPolicy

    try:
        target = Target.parse(location, "source")
        port = target.port or (443 if target.scheme == "https" else 80)
        checked_addresses(target.host, port, allow_private=FetchPolicy.current().allow_private,
                          noun="source host")
    except TargetRefused as exc:
        if not exc.retryable:
            raise SourceError("location", str(exc)) from None


def add_source(session: Session, spec: SourceSpec, now: datetime | None = None) -> Source:
    """Validate ``spec`` and add the source; SourceError names the first bad field."""
    now = now or datetime.now(UTC)
    name = check_name(spec.name)
    if find_source(session, name) is not None:
        raise SourceError("name", f"a source called {name} already exists")
    location = (spec.location or "").strip()
    if not location:
        raise SourceError("location", "a source needs a path or URL")
    if not location.startswith(("http://", "https://")):
        path = Path(location).expanduser()
        if not path.is_file():
            raise SourceError("location", f"{location} is neither an http(s) URL nor a file")
        location = str(path.resolve())
    else:
        check_url_location(location)
    if spec.format not in SOURCE_FORMATS:
        raise SourceError("format", f"{spec.format!r}; use one of {', '.join(SOURCE_FORMATS)}")
    if spec.format == "ckan" and not location.startswith(("http://", "https://")):
        raise SourceError("location", "a CKAN source is the portal's http(s) base URL")
    mapping = None
    if spec.mapping_path:
        mapping_file = Path(spec.mapping_path).expanduser()
        if not mapping_file.is_file():
            raise SourceError("mapping", f"no such file: {spec.mapping_path}")
        mapping = str(mapping_file.resolve())
    schedule, next_at = check_schedule(spec.schedule, spec.timezone or "UTC", now)
    headers = dict(parse_header(h) for h in spec.headers)
    source = Source(name=name, location=location, format=spec.format, mapping_path=mapping,
                    schedule=schedule, timezone=spec.timezone or "UTC", headers=headers,
                    paused=False, next_harvest_at=next_at, state={}, created_at=now)
    session.add(source)
    session.flush()
    return source


def find_source(session: Session, name: str) -> Source | None:
    """The source called ``name``, if any."""
    return session.scalar(select(Source).where(Source.name == (name or "").strip()))


def get_source(session: Session, name: str) -> Source:
    """The source called ``name``; SourceNotFound otherwise."""
    source = find_source(session, name)
    if source is None:
        raise SourceNotFound(f"no source called {name!r} (see `scenewatch sources list`)")
    return source


def ensure_source(session: Session, name: str, location: str, fmt: str,
                  mapping_path: str | None, now: datetime) -> Source:
    """The source ``name``, created (manual schedule) the first time a one-off
    ``harvest NAME PATH_OR_URL`` uses it. An existing source keeps its settings."""
    source = find_source(session, name)
    if source is None:
        if not location.startswith(("http://", "https://")):
            location = str(Path(location).expanduser().resolve())
        source = Source(name=check_name(name), location=location, format=fmt,
                        mapping_path=mapping_path, schedule=MANUAL, timezone="UTC", headers={},
                        paused=False, next_harvest_at=None, state={}, created_at=now)
        session.add(source)
        session.flush()
    return source


def set_paused(session: Session, name: str, paused: bool, now: datetime | None = None) -> Source:
    """Pause or resume a source's scheduled harvests (``sources run`` still works)."""
    now = now or datetime.now(UTC)
    source = get_source(session, name)
    source.paused = paused
    if not paused:  # resuming starts from the next scheduled time, not a backlog
        source.next_harvest_at = check_schedule(source.schedule, source.timezone, now)[1]
    return source


def remove_source(session: Session, name: str, now: datetime | None = None) -> list[str]:
    """Delete the source and tombstone its live datasets; returns their ids.

    Harvest history and quarantine stay (they name the source as text).
    """
    now = now or datetime.now(UTC)
    source = get_source(session, name)
    if source.harvesting_since is not None and now - source.harvesting_since < HARVEST_LEASE:
        raise SourceBusy(f"{name} is being harvested right now; try again when it ends")
    ids = list(session.scalars(select(Dataset.id).where(Dataset.source == source.name,
                                                        Dataset.deleted_at.is_(None))))
    session.execute(update(Dataset).where(Dataset.source == source.name,
                                          Dataset.deleted_at.is_(None))
                    .values(deleted_at=now).execution_options(synchronize_session=False))
    session.delete(source)
    return ids


def recent_harvests(session: Session, name: str, limit: int = 20) -> list[Harvest]:
    """The source's latest harvests, newest first."""
    return list(session.scalars(select(Harvest).where(Harvest.source == name)
                                .order_by(Harvest.id.desc()).limit(limit)))


def dataset_counts(session: Session, name: str, limit: int = 60) -> list[tuple[datetime, int]]:
    """The source's live dataset count after each of its last ``limit`` harvests that
    applied a snapshot (status ok or suspect), oldest first: every dataset a harvest
    added (or restored) minus those it removed, summed from the source's first harvest."""
    applied = (Harvest.source == name, Harvest.status.in_(("ok", "suspect")))
    rows = session.execute(select(Harvest.id, Harvest.started_at, Harvest.new, Harvest.removed)
                           .where(*applied).order_by(Harvest.id.desc()).limit(limit)).all()[::-1]
    if not rows:
        return []
    live = int(session.scalar(select(func.coalesce(func.sum(Harvest.new - Harvest.removed), 0))
                              .where(*applied, Harvest.id < rows[0].id)) or 0)
    counts = []
    for _id, started_at, new, removed in rows:
        live += int(new or 0) - int(removed or 0)
        counts.append((started_at, live))
    return counts


def quarantine_page(session: Session, name: str, harvest_id: int | None = None,
                    offset: int = 0, limit: int = 50) -> list[QuarantinedRecord]:
    """Quarantined records of the source (of one harvest, or its latest one that has any)."""
    query = select(QuarantinedRecord).where(QuarantinedRecord.source == name)
    if harvest_id is not None:
        query = query.where(QuarantinedRecord.harvest_id == harvest_id)
    return list(session.scalars(query.order_by(QuarantinedRecord.id.desc())
                                .offset(offset).limit(limit)))


def quarantine_summary(session: Session, name: str) -> dict[str, Any]:
    """The quarantine of the source's latest harvest that had any: total and top reasons."""
    latest = session.scalar(select(func.max(QuarantinedRecord.harvest_id))
                            .where(QuarantinedRecord.source == name))
    if latest is None:
        return {"harvest_id": None, "total": 0, "reasons": []}
    rows = session.execute(
        select(QuarantinedRecord.reason, func.count()).where(QuarantinedRecord.harvest_id == latest)
        .group_by(QuarantinedRecord.reason).order_by(func.count().desc()).limit(10)).all()
    total = session.scalar(select(func.count()).select_from(QuarantinedRecord)
                           .where(QuarantinedRecord.harvest_id == latest)) or 0
    return {"harvest_id": latest, "total": int(total),
            "reasons": [{"reason": reason, "count": int(count)} for reason, count in rows]}


COUNT_KEYS = ("seen", "new", "changed", "unchanged", "removed", "quarantined", "held_removals")


def harvest_record(harvest: Harvest) -> dict[str, Any]:
    """One harvest as ``sources run --json`` and ``sources show --json`` print it."""
    return {
        "id": harvest.id, "source": harvest.source, "status": harvest.status or "working",
        "http_status": harvest.http_status, "bytes": harvest.bytes_read,
        "started_at": harvest.started_at, "finished_at": harvest.finished_at,
        "location": harvest.location, "format": harvest.format, "trigger": harvest.trigger,
        "counts": {key: int(getattr(harvest, key) or 0) for key in COUNT_KEYS},
        "error": harvest.error,
    }


def source_record(source: Source, last: Harvest | None) -> dict[str, Any]:
    """A source as ``sources list`` prints it (headers masked)."""
    return {
        "name": source.name, "location": source.location, "format": source.format,
        "mapping": source.mapping_path, "schedule": source.schedule,
        "timezone": source.timezone, "headers": masked_headers(source.headers),
        "paused": source.paused, "next_harvest_at": source.next_harvest_at,
        "harvesting": source.harvesting_since is not None,
        "etag": source.etag, "last_modified": source.last_modified,
        "last_harvest": harvest_record(last) if last else None,
    }
