"""Catalog tables: the latest state of each dataset, its append-only versions,
quarantined records and the log of harvests."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.extensions import NEVER_REUSE_IDS, Base
from search import regions

# Dataset fields that describe the dataset (as opposed to harvest bookkeeping).
# They are what a version hashes, what scenes can track, and what diffs compare.
CONTENT_FIELDS: tuple[str, ...] = (
    "title", "description", "publisher", "region", "themes", "tags", "formats",
    "machine_readable", "open_type", "update_frequency", "license", "created",
    "modified", "record_count", "resources", "landing_page",
)
# Quality is computed from content (and the clock, for timeliness), so it is part
# of the document but not of the content hash.
TRACKABLE_FIELDS: tuple[str, ...] = CONTENT_FIELDS + ("quality",)


class Dataset(Base):
    """The latest known state of one dataset (``id`` is ``<source>:<native id>``)."""

    __tablename__ = "dataset"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), index=True)
    native_id: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    publisher: Mapped[str] = mapped_column(String(512), default="")
    region: Mapped[str] = mapped_column(String(256), default="")
    # Where ``region`` sits (province → city → district, search.regions): derived at
    # harvest from the region and the portal, so not content (not hashed, not diffed).
    region_path: Mapped[list[Any]] = mapped_column(default=list)
    themes: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    formats: Mapped[list[Any]] = mapped_column(default=list)
    machine_readable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    open_type: Mapped[str] = mapped_column(String(32), default="")
    update_frequency: Mapped[str] = mapped_column(String(32), default="")
    license: Mapped[str] = mapped_column(String(512), default="")
    created: Mapped[str | None] = mapped_column(String(32), nullable=True)  # ISO date or datetime
    modified: Mapped[str | None] = mapped_column(String(32), nullable=True)
    record_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resources: Mapped[list[Any]] = mapped_column(default=list)
    landing_page: Mapped[str] = mapped_column(Text, default="")
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    current_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_changed_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)

    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset", order_by="DatasetVersion.id", cascade="all, delete-orphan"
    )

    def content(self) -> dict[str, Any]:
        """The content fields as a plain dict (what versions store and diffs compare)."""
        return {name: getattr(self, name) for name in CONTENT_FIELDS}

    def to_document(self) -> dict[str, Any]:
        """The search document every backend indexes. A dataset stored before region
        paths existed is placed by its region's name alone until reindexed."""
        doc = {"id": self.id, "source": self.source, **self.content(), "quality": dict(self.quality or {})}
        doc["region_path"] = list(self.region_path or regions.region_path(self.region or ""))
        doc["size"] = sum(int(r.get("size") or 0) for r in (self.resources or [])) or None
        return doc


class DatasetVersion(Base):
    """One distinct content of a dataset; append-only."""

    __tablename__ = "dataset_version"
    __table_args__ = (UniqueConstraint("dataset_id", "content_hash"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]]
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seen_at: Mapped[datetime]
    harvest_id: Mapped[int | None] = mapped_column(ForeignKey("harvest.id"), nullable=True)

    dataset: Mapped[Dataset] = relationship(back_populates="versions")


class Harvest(Base):
    """One harvest of one source: when, from where, and its counts."""

    __tablename__ = "harvest"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(128), index=True)
    location: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="working")  # working | done | error
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # What the admin sees (search/sources): ok | not_modified | suspect | error (None while working).
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bytes_read: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    held_removals: Mapped[int] = mapped_column(Integer, default=0)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual | clock | cli


class Source(Base):
    """A registered portal: where its snapshot is, how to read it, and when to harvest.

    ``name`` is the id prefix of its datasets. ``headers`` are extra request headers
    (often a token): stored, never printed back in full. ``etag`` and ``last_modified``
    make the next fetch conditional; ``state`` is what a harvester keeps between runs
    (e.g. a CKAN cursor). ``next_harvest_at`` is claimed with a compare-and-set, and
    ``harvesting_since`` is the lease that keeps one harvest per source at a time.
    """

    __tablename__ = "source"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    format: Mapped[str] = mapped_column(String(32), default="auto")
    location: Mapped[str] = mapped_column(Text)
    mapping_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    schedule: Mapped[str] = mapped_column(String(100), default="manual")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_harvest_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    harvesting_since: Mapped[datetime | None] = mapped_column(nullable=True)
    etag: Mapped[str | None] = mapped_column(String(512), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class QuarantinedRecord(Base):
    """A source record that could not be turned into a dataset, kept with the reason."""

    __tablename__ = "quarantined_record"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    harvest_id: Mapped[int] = mapped_column(ForeignKey("harvest.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(128))
    position: Mapped[str] = mapped_column(String(64))  # record number or line in the file
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the record as found (JSON text or CSV line)
    created_at: Mapped[datetime]
