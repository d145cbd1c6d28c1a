"""Facet counts for the FTS5 backend: the top values by count over the matching set.

- Match-all (an empty scene, the search page's landing view): counted from the term
  table once per index *generation* (bumped by every write) and cached in the process.
- Any other query: the backend reads the facet columns of every hit in the same pass
  that finds them, and they are counted here in one pass with C-speed Counters,
  rather than one SQL GROUP BY per field.

The same per-generation counts estimate how many documents a filter value has, so
the most selective filter can drive a text-less query.
"""
from __future__ import annotations

import heapq
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from search.sqlite_schema import FIELD_CODES, LIST_FIELDS, unpack

FacetCounts = dict[str, list[tuple[str, int]]]


def top(counts: dict[str, int], size: int) -> list[tuple[str, int]]:
    """The ``size`` values with the highest counts (ties by value)."""
    return heapq.nsmallest(size, counts.items(), key=lambda item: (-item[1], item[0]))


def count_columns(columns: Sequence[Sequence[Any]], facets: Sequence[str], size: int) -> FacetCounts:
    """Facet counts from column-wise hit values (``columns[i]`` holds ``facets[i]``)."""
    out: FacetCounts = {}
    for name, column in zip(facets, columns):
        raw = Counter(column)
        if name in LIST_FIELDS:
            # Count each distinct packed list once, then spread it over its values:
            # far fewer distinct lists than hits.
            counts: Counter[str] = Counter()
            for packed, n in raw.items():
                for value in unpack(packed):
                    counts[value] += n
        elif name == "machine_readable":
            counts = Counter({"true" if k else "false": n for k, n in raw.items() if k is not None})
        else:
            raw.pop("", None)
            counts = raw
        out[name] = top(counts, size)
    return out


class FacetCounter:
    """Per-generation value counts (thread-safe): match-all facets and filter sizes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._fields: dict[str, dict[str, int]] = {}
        self._values: dict[tuple[str, Any], int] = {}

    def sync(self, conn: sqlite3.Connection) -> None:
        """Drop the caches if the index changed since they were filled."""
        generation = conn.execute("SELECT value FROM search_meta WHERE key = 'generation'").fetchone()[0]
        with self._lock:
            if generation != self._generation:
                self._generation = generation
                self._fields = {}
                self._values = {}

    def match_all(self, conn: sqlite3.Connection, facets: Sequence[str], size: int) -> FacetCounts:
        """Counts over every document (call :meth:`sync` first in the same snapshot)."""
        return {name: top(self.field_counts(conn, name), size) for name in facets}

    def field_counts(self, conn: sqlite3.Connection, name: str) -> dict[str, int]:
        with self._lock:
            known = self._fields.get(name)
        if known is None:
            known = dict(conn.execute(
                "SELECT value, count(*) FROM search_term WHERE field = ? GROUP BY value", (FIELD_CODES[name],)
            ).fetchall())
            with self._lock:
                self._fields[name] = known
        return known

    def documents_with(self, conn: sqlite3.Connection, name: str, values: Sequence[Any]) -> int:
        """How many term rows the values of a filter have (an upper bound on its docs)."""
        total = 0
        for value in values:
            term = ("true" if value else "false") if isinstance(value, bool) else value
            with self._lock:
                fields = self._fields.get(name)
                known = fields.get(term, 0) if fields is not None else self._values.get((name, term))
            if known is None:
                known = conn.execute(
                    "SELECT count(*) FROM search_term WHERE field = ? AND value = ?", (FIELD_CODES[name], term)
                ).fetchone()[0]
                with self._lock:
                    self._values[(name, term)] = known
            total += known
        return total
