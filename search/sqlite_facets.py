"""Facet counts and value lookups for the FTS5 backend.

- Match-all (an empty scene, the search page's landing view): counted from the term
  table once per index *generation* (bumped by every write) and cached in-process.
- Any other query: the backend reads the coded facet columns of every hit in the
  same pass that finds them; they are counted here with C-speed Counters, and a
  list field is spread over its values once per distinct list, not once per hit.

The per-generation counts also estimate filter sizes, so the most selective filter
drives a text-less query.
"""
from __future__ import annotations

import heapq
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from search.sqlite_schema import FIELD_CODES, LIST_FIELDS, bool_term, unpack
from search.sqlite_values import ValueCodes

FacetCounts = dict[str, list[tuple[str, int]]]


def top(counts: dict[str, int], size: int) -> list[tuple[str, int]]:
    """The ``size`` values with the highest counts (ties by value)."""
    return heapq.nsmallest(size, counts.items(), key=lambda item: (-item[1], item[0]))


class IndexState:
    """What one process remembers about the index between searches (thread-safe)."""

    def __init__(self) -> None:
        self.values = ValueCodes()
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._fields: dict[str, dict[str, int]] = {}
        self._sizes: dict[tuple[str, Any], int] = {}

    def sync(self, conn: sqlite3.Connection) -> None:
        """Bring the caches up to the snapshot ``conn`` reads (call inside it)."""
        meta = dict(conn.execute("SELECT key, value FROM search_meta WHERE key IN ('generation', 'epoch')"))
        self.values.sync(conn, meta["epoch"])
        with self._lock:
            if meta["generation"] != self._generation:
                self._generation = meta["generation"]
                self._fields, self._sizes = {}, {}

    def lookups(self, conn: sqlite3.Connection) -> "BoundLookups":
        return BoundLookups(self, conn)

    def match_all(self, conn: sqlite3.Connection, facets: Sequence[str], size: int) -> FacetCounts:
        """Counts over every document."""
        return {name: top(self.field_counts(conn, name), size) for name in facets}

    def count_hits(self, conn: sqlite3.Connection, rows: Sequence[Sequence[Any]], first: int,
                   facets: Sequence[str], size: int) -> FacetCounts:
        """Counts from the hit rows, whose coded facet values start at ``first``."""
        out: FacetCounts = {}
        for i, name in enumerate(facets, start=first):
            raw = Counter(map(itemgetter(i), rows))  # C-level loop over the hits
            if name == "machine_readable":
                counts = {bool_term(bool(k)): n for k, n in raw.items() if k is not None}
                out[name] = top(counts, size)
                continue
            raw.pop(0, None)
            if not self.values.knows(raw):
                self.values.sync(conn, self.values_epoch(conn))  # written after our last sync
            decode = self.values.decode
            if name in LIST_FIELDS:
                spread: Counter[str] = Counter()
                for code, n in raw.items():
                    for value in unpack(decode(code)):
                        spread[value] += n
                out[name] = top(spread, size)
            else:
                out[name] = top({decode(code): n for code, n in raw.items()}, size)
        return out

    @staticmethod
    def values_epoch(conn: sqlite3.Connection) -> str:
        return conn.execute("SELECT value FROM search_meta WHERE key = 'epoch'").fetchone()[0]

    def field_counts(self, conn: sqlite3.Connection, name: str) -> dict[str, int]:
        """Documents per value of one field, over the whole index."""
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
            term = bool_term(value) if isinstance(value, bool) else value
            with self._lock:
                fields = self._fields.get(name)
                known = fields.get(term, 0) if fields is not None else self._sizes.get((name, term))
            if known is None:
                known = conn.execute(
                    "SELECT count(*) FROM search_term WHERE field = ? AND value = ?", (FIELD_CODES[name], term)
                ).fetchone()[0]
                with self._lock:
                    self._sizes[(name, term)] = known
            total += known
        return total


class BoundLookups:
    """:class:`IndexState` answering :class:`search.sqlite_query.Lookups` for one snapshot."""

    def __init__(self, state: IndexState, conn: sqlite3.Connection) -> None:
        self.state, self.conn = state, conn

    def documents_with(self, name: str, values: tuple[Any, ...]) -> int:
        return self.state.documents_with(self.conn, name, values)

    def codes(self, name: str, values: tuple[Any, ...]) -> list[int]:
        return self.state.values.matching(name, [str(v) for v in values])
