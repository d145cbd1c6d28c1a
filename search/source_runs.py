"""Harvesting a registered source: one harvest per source at a time, conditional GET,
suspect snapshots held, the outcome stored on the Source and Harvest rows.

The lease (``Source.harvesting_since``) is taken with a compare-and-set UPDATE, so of
two schedulers, workers or admins starting the same source only one harvests; a lease
left by a killed process runs out after :data:`search.sources.HARVEST_LEASE`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update

from config.extensions import db
from search.harvest import HarvestError, run_harvest
from search.harvest.pipeline import FetchOptions, HarvestSummary
from search.models import Harvest, Source
from search.sources import HARVEST_LEASE, SourceBusy, ensure_source, get_source, harvest_record


@dataclass
class HarvestOutcome:
    """What one harvest of a source did: its record (``sources run --json``) and the
    dataset ids the scenes need to look at."""

    record: dict[str, Any]
    changed_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)
    summary: HarvestSummary | None = None  # None when the harvest failed

    @property
    def status(self) -> str:
        return str(self.record["status"])


def _max_removal() -> float:
    from config.extensions import settings as bound_settings

    return float(bound_settings.get().harvest_max_removal)


def _claim(name: str, now: datetime) -> None:
    with db.session() as session:
        won = cast("CursorResult[Any]", session.execute(
            update(Source).where(Source.name == name, or_(
                Source.harvesting_since.is_(None), Source.harvesting_since < now - HARVEST_LEASE))
            .values(harvesting_since=now).execution_options(synchronize_session=False))).rowcount
    if won != 1:
        raise SourceBusy(f"{name} is being harvested right now; try again when it ends")


def _release(name: str, claimed: datetime) -> None:
    with db.session() as session:
        session.execute(update(Source).where(Source.name == name,
                                             Source.harvesting_since == claimed)
                        .values(harvesting_since=None)
                        .execution_options(synchronize_session=False))


def _record_of(harvest_id: int) -> dict[str, Any]:
    with db.session() as session:
        harvest = session.get(Harvest, harvest_id)
        assert harvest is not None
        return harvest_record(harvest)


def harvest_source(name: str, *, location: str | None = None, fmt: str | None = None,
                   mapping_path: str | None = None, accept_removals: bool = False,
                   full: bool = False, trigger: str = "cli", progress: bool = False,
                   now: datetime | None = None) -> HarvestOutcome:
    """Harvest the source ``name`` now and return the outcome.

    Without ``location`` the source's own location is fetched, conditionally when an
    ETag / Last-Modified is known (not with ``accept_removals`` or ``full``). With
    ``location`` (the one-off ``harvest NAME PATH_OR_URL``) that snapshot is loaded, and
    the source is created on first use. Raises SourceNotFound, SourceBusy, or
    HarvestError for arguments that make no harvest at all; a failed harvest is
    recorded and returned with status ``error``.
    """
    started = datetime.now(UTC)
    with db.session() as session:
        if location is None:
            source = get_source(session, name)
        else:
            source = ensure_source(session, name, location, fmt or "auto", mapping_path, started)
        own = location is None
        target = source.location if own else location
        kind = (source.format if own else fmt) or "auto"
        mapping = source.mapping_path if own else mapping_path
        conditional = own and not (accept_removals or full)
        fetch = FetchOptions(headers=dict(source.headers or {}),
                             etag=source.etag if conditional else None,
                             last_modified=source.last_modified if conditional else None,
                             state=dict(source.state or {}) if own else None, full=full)
    assert target is not None
    _claim(name, started)
    try:
        summary = run_harvest(name, target, fmt=kind, mapping_path=mapping, progress=progress,
                              now=now, fetch=fetch, trigger=trigger,
                              max_removal=None if accept_removals else _max_removal())
    except HarvestError as exc:
        harvest_id = exc.harvest_id
        if harvest_id is None:
            raise
        return HarvestOutcome(record=_record_of(harvest_id))
    finally:
        _release(name, started)
    values: dict[str, Any] = {}
    if own and summary.status != "not_modified" and (summary.etag or summary.last_modified):
        values = {"etag": summary.etag, "last_modified": summary.last_modified}
    if own and summary.state is not None:  # what the harvester keeps between passes (CKAN)
        values["state"] = summary.state
    if values:
        with db.session() as session:
            session.execute(update(Source).where(Source.name == name).values(**values)
                            .execution_options(synchronize_session=False))
    return HarvestOutcome(record=_record_of(summary.harvest_id), changed_ids=summary.changed_ids,
                          removed_ids=summary.removed_ids, summary=summary)


def claim_due_sources(now: datetime | None = None, limit: int = 50) -> list[tuple[str, datetime]]:
    """Claim every due, unpaused source for its scheduled time; returns (name, time) pairs.

    ``next_harvest_at`` is advanced with a compare-and-set UPDATE before the harvest is
    queued: of two schedulers seeing the same due source only one wins, like scenes.
    """
    from sqlalchemy import select

    from search.sources import SourceError, check_schedule

    now = now or datetime.now(UTC)
    with db.session() as session:
        due = session.execute(
            select(Source.name, Source.next_harvest_at, Source.schedule, Source.timezone)
            .where(Source.paused.is_(False), Source.next_harvest_at.is_not(None),
                   Source.next_harvest_at <= now)
            .order_by(Source.next_harvest_at).limit(limit)).all()
    claimed: list[tuple[str, datetime]] = []
    for name, scheduled_for, schedule, tz_name in due:
        try:
            following = check_schedule(schedule, tz_name, now)[1]
        except SourceError:
            following = None  # an unusable schedule stops rather than firing every tick
        with db.session() as session:
            won = cast("CursorResult[Any]", session.execute(
                update(Source).where(Source.name == name, Source.next_harvest_at == scheduled_for)
                .values(next_harvest_at=following)
                .execution_options(synchronize_session=False))).rowcount
        if won == 1 and scheduled_for is not None:
            claimed.append((name, scheduled_for))
    return claimed
