"""The small interface every search backend implements (SQLite FTS5, Elasticsearch).

Backends index *search documents* (``Dataset.to_document()``) and answer
:class:`~search.query.SceneQuery` objects; they never touch the catalog tables.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from search.query import SceneQuery

# Facets shown on the search page and returned by `scenewatch search`.
FACET_FIELDS: tuple[str, ...] = (
    "source", "region", "publisher", "themes", "formats", "open_type", "update_frequency",
)


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
            "hits": [{"id": h.id, "score": h.score, **{k: v for k, v in h.document.items() if k != "id"}} for h in self.hits],
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
        query: "SceneQuery",
        *,
        limit: int = 20,
        offset: int = 0,
        facets: Sequence[str] = FACET_FIELDS,
        facet_size: int = 20,
        sort: str = "relevance",
    ) -> SearchResult:
        """One page of hits, the total and facet counts for ``query``.
        ``sort``: relevance | modified | -modified | title."""

    def iter_ids(self, query: "SceneQuery") -> Iterator[str]:
        """Every matching dataset id, however many (used by scene runs)."""

    def count(self) -> int:
        """How many documents the index holds."""

    def clear(self) -> None:
        """Drop every document (used before a full reindex)."""
