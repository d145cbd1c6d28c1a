"""Facet counts for the FTS5 backend: top values by count over the matching set.

Two paths keep them fast on the full index:
- match-all (an empty scene, the search page's landing view): counted once per
  index *generation* (bumped by every write) and cached in the process;
- any other query: counted over ``temp.search_hits`` (the matching docs), either
  walking the hits and looking up their terms (few hits), or walking the field's
  terms and probing the hits (many hits), whichever touches fewer rows.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

from search.sqlite_schema import FIELD_CODES

# Above this share of the field's terms, walking the field's terms beats looking up
# each hit's terms (measured on the CNPDS index; see bench/search_latency.py).
HITS_SHARE_FOR_FIELD_WALK = 0.25

FacetCounts = dict[str, list[tuple[str, int]]]


class FacetCounter:
    """Counts facets; holds the match-all cache (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._cache: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self._term_counts: dict[str, int] = {}

    def match_all(self, conn: sqlite3.Connection, facets: Sequence[str], size: int) -> FacetCounts:
        """Counts over every document, from the cache when the index has not changed."""
        generation = self._sync(conn)
        out: FacetCounts = {}
        for name in facets:
            with self._lock:
                cached = self._cache.get((name, size))
            if cached is None:
                cached = conn.execute(
                    "SELECT value, count(*) AS n FROM search_term WHERE field = ? "
                    "GROUP BY value ORDER BY n DESC, value LIMIT ?",
                    (FIELD_CODES[name], size),
                ).fetchall()
                with self._lock:
                    if self._generation == generation:
                        self._cache[(name, size)] = cached
            out[name] = [(value, n) for value, n in cached]
        return out

    def over_hits(self, conn: sqlite3.Connection, facets: Sequence[str], size: int, hits: int) -> FacetCounts:
        """Counts over the docs in ``temp.search_hits`` (``hits`` of them)."""
        out: FacetCounts = {}
        if not facets:
            return out
        if hits == 0:
            return {name: [] for name in facets}
        self._sync(conn)
        for name in facets:
            code = FIELD_CODES[name]
            if hits > HITS_SHARE_FOR_FIELD_WALK * self._terms_of(conn, name):
                sql = (
                    "SELECT value, count(*) AS n FROM search_term WHERE field = ? "
                    "AND doc IN temp.search_hits GROUP BY value ORDER BY n DESC, value LIMIT ?"
                )
            else:
                sql = (
                    "SELECT t.value, count(*) AS n FROM temp.search_hits h "
                    "CROSS JOIN search_term t ON t.doc = h.doc AND t.field = ? "
                    "GROUP BY t.value ORDER BY n DESC, t.value LIMIT ?"
                )
            out[name] = [(value, n) for value, n in conn.execute(sql, (code, size))]
        return out

    def _sync(self, conn: sqlite3.Connection) -> str:
        """The index generation; drops the caches when it moved."""
        generation = conn.execute("SELECT value FROM search_meta WHERE key = 'generation'").fetchone()[0]
        with self._lock:
            if generation != self._generation:
                self._generation = generation
                self._cache = {}
                self._term_counts = {}
        return str(generation)

    def _terms_of(self, conn: sqlite3.Connection, name: str) -> int:
        with self._lock:
            known = self._term_counts.get(name)
        if known is None:
            known = conn.execute(
                "SELECT count(*) FROM search_term WHERE field = ?", (FIELD_CODES[name],)
            ).fetchone()[0]
            with self._lock:
                self._term_counts[name] = known
        return known
