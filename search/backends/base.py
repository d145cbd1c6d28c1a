"""What every search backend is (SQLite FTS5, Elasticsearch) and what they share.

Backends index *search documents* (``Dataset.to_document()``) and answer
:class:`~search.query.SceneQuery` objects; they never touch the catalog tables.

:class:`SearchBackend` is the interface the rest of scenewatch types against.
:class:`BaseSearchBackend` implements its shared half once: checking the query,
the sort order and the facet names, clamping the page, and the generic
:meth:`~BaseSearchBackend.rebuild` (clear, then index in batches); a backend
supplies the storage half (``_search``, ``_iter_ids``, writes, counts).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tqdm import tqdm

from search.query import SceneQuery
from search.query_values import FILTER_FIELDS

# Facets shown on the search page and returned by `scenewatch search`.
FACET_FIELDS: tuple[str, ...] = (
    "source", "region", "publisher", "themes", "formats", "open_type", "update_frequency",
)
# Sort orders every backend offers: missing dates last both ways, ties by id.
SORTS: tuple[str, ...] = ("relevance", "modified", "-modified", "title")
# Documents per write while rebuilding.
REBUILD_BATCH = 1000
# The most any page, offset or facet list may ask for: beyond every index's size, within
# what SQLite and PostgreSQL accept as a LIMIT/OFFSET (a hand-made offset of 10**30 is an
# empty page, not a crash).
MAX_WINDOW = 2**31 - 1


@dataclass
class Hit:
    id: str
    score: float
    document: dict[str, Any]


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "facets": {name: [{"value": v, "count": c} for v, c in values] for name, values in self.facets.items()},
            "hits": [{"id": h.id, "score": h.score, **{k: v for k, v in h.document.items() if k != "id"}}
                     for h in self.hits],
        }


@dataclass
class IndexReport:
    indexed: int = 0
    deleted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (dataset id, reason)


class SearchBackend(Protocol):
    """What the rest of scenewatch needs from a search index."""

    def ensure_index(self) -> None:
        """Create the index (tables or ES index + alias) if missing."""

    def index(self, documents: Iterable[dict[str, Any]]) -> IndexReport:
        """Add or replace documents (keyed by ``document["id"]``)."""

    def delete(self, ids: Iterable[str]) -> IndexReport:
        """Remove documents (tombstoned datasets)."""

    def search(
        self,
        query: SceneQuery,
        *,
        limit: int = 20,
        offset: int = 0,
        facets: Sequence[str] = FACET_FIELDS,
        facet_size: int = 20,
        sort: str = "relevance",
        now: datetime | None = None,
    ) -> SearchResult:
        """One page of hits, the total and facet counts for ``query``.
        ``sort``: relevance | modified | -modified | title."""

    def iter_ids(self, query: SceneQuery, *, now: datetime | None = None) -> Iterator[str]:
        """Every matching dataset id, however many (used by scene runs)."""

    def match_ids(self, requests: Sequence[tuple[SceneQuery, Sequence[str]]], *,
                  now: datetime | None = None) -> list[set[str]]:
        """For each (query, candidate ids): the candidates that match (reverse matching)."""

    def count(self) -> int:
        """How many documents the index holds."""

    def clear(self) -> None:
        """Drop every document."""

    def rebuild(self, documents: Iterable[dict[str, Any]], *, progress: bool = False,
                total: int | None = None) -> IndexReport:
        """Replace the whole index by ``documents`` (a full reindex)."""

    def close(self) -> None:
        """Release this process's (or thread's) connections."""


class BaseSearchBackend(ABC):
    """The shared half of every backend (see the module docstring)."""

    # -- reads: checked here, answered by the backend ----------------------------------

    def search(
        self,
        query: SceneQuery,
        *,
        limit: int = 20,
        offset: int = 0,
        facets: Sequence[str] = FACET_FIELDS,
        facet_size: int = 20,
        sort: str = "relevance",
        now: datetime | None = None,
    ) -> SearchResult:
        """One page of hits with the total and facet counts. ``now`` evaluates
        relative dates (default: the current time). Raises ValueError naming a bad
        sort order or facet field."""
        check_query(query)
        check_sort(sort)
        wanted = check_facets(facets)
        return self._search(query, limit=_window(limit), offset=_window(offset), facets=wanted,
                            facet_size=_window(facet_size), sort=sort, now=now)

    def iter_ids(self, query: SceneQuery, *, now: datetime | None = None) -> Iterator[str]:
        """Every matching id, in id order."""
        check_query(query)
        return self._iter_ids(query, now=now)

    def match_ids(self, requests: Sequence[tuple[SceneQuery, Sequence[str]]], *,
                  now: datetime | None = None) -> list[set[str]]:
        """For each (query, candidate ids): the candidates that match the query.
        Reverse matching evaluates a scene only on the datasets a harvest touched."""
        for query, _ids in requests:
            check_query(query)
        return self._match_ids(requests, now=now)

    @abstractmethod
    def _search(self, query: SceneQuery, *, limit: int, offset: int, facets: list[str],
                facet_size: int, sort: str, now: datetime | None) -> SearchResult:
        """:meth:`search` with checked arguments (``facets`` known and unique)."""

    @abstractmethod
    def _iter_ids(self, query: SceneQuery, *, now: datetime | None) -> Iterator[str]:
        """:meth:`iter_ids` with a checked query."""

    @abstractmethod
    def _match_ids(self, requests: Sequence[tuple[SceneQuery, Sequence[str]]], *,
                   now: datetime | None) -> list[set[str]]:
        """:meth:`match_ids` with checked queries."""

    @abstractmethod
    def count(self) -> int:
        """How many documents the index holds."""

    # -- writes ------------------------------------------------------------------------

    @abstractmethod
    def ensure_index(self) -> None:
        """Create the index if missing (idempotent)."""

    @abstractmethod
    def index(self, documents: Iterable[dict[str, Any]]) -> IndexReport:
        """Add or replace documents (keyed by ``document["id"]``)."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> IndexReport:
        """Remove documents by id; unknown ids are ignored."""

    @abstractmethod
    def clear(self) -> None:
        """Drop every document."""

    def rebuild(self, documents: Iterable[dict[str, Any]], *, progress: bool = False,
                total: int | None = None) -> IndexReport:
        """Replace the index by ``documents``: clear, then index in batches. Backends
        that can build aside and swap (Elasticsearch aliases) override this.
        ``total`` (if known) sizes the progress bar."""
        self.clear()
        report = IndexReport()
        bar = tqdm(total=total, unit="ds", desc="reindex", disable=not progress)
        try:
            batch: list[dict[str, Any]] = []
            for document in documents:
                batch.append(document)
                if len(batch) >= REBUILD_BATCH:
                    self._absorb(report, self.index(batch))
                    bar.update(len(batch))
                    batch = []
            if batch:
                self._absorb(report, self.index(batch))
                bar.update(len(batch))
        finally:
            bar.close()
        return report

    @staticmethod
    def _absorb(report: IndexReport, part: IndexReport) -> None:
        report.indexed += part.indexed
        report.deleted += part.deleted
        report.failed.extend(part.failed)

    def close(self) -> None:  # noqa: B027 - a no-op default, not abstract: most hold nothing
        """Release connections; nothing to do unless a backend holds some."""


def _window(value: int) -> int:
    return max(0, min(int(value), MAX_WINDOW))


def check_query(query: Any) -> None:
    """Raise TypeError unless ``query`` is a parsed :class:`SceneQuery`."""
    if not isinstance(query, SceneQuery):
        raise TypeError(f"expected a SceneQuery (see search.query.parse_query), got {type(query).__name__}")


def check_sort(sort: str) -> None:
    """Raise ValueError unless ``sort`` is one of :data:`SORTS`."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")


def check_facets(facets: Sequence[str]) -> list[str]:
    """The facet names without duplicates; ValueError names any unknown field."""
    unknown = [name for name in facets if name not in FILTER_FIELDS]
    if unknown:
        raise ValueError(f"unknown facet field(s): {', '.join(unknown)}")
    return list(dict.fromkeys(facets))
