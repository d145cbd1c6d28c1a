"""Facet counts and value lookups for the FTS5 backend.

- Match-all (an empty scene, the search page's landing view): the total and each
  field's counts (one walk of its code index) are computed once per index
  *generation*, bumped by every write, and cached in-process.
- Any other query: each facet is counted with numpy from the hits' doc numbers and
  the per-generation column of every document's code
  (:mod:`search.backends.sqlite.columns`); no value is read per hit from SQLite, and a
  list field is spread over its values once per distinct list, not once per hit.

The per-generation counts also estimate filter sizes, so the most selective filter
drives a text-less query. Each search works through a :class:`View` of the caches
that belong to its own snapshot, so a concurrent write never mixes two states.
"""

from __future__ import annotations

import heapq
import sqlite3
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from search.backends.sqlite.columns import Columns, Docs, passing
from search.backends.sqlite.query import CompiledQuery
from search.backends.sqlite.schema import LIST_FIELDS, bool_term, unpack
from search.backends.sqlite.values import ValueCodes

FacetCounts = dict[str, list[tuple[str, int]]]

def top(counts: Mapping[str, int], size: int) -> list[tuple[str, int]]:
    """The ``size`` values with the highest counts (ties by value)."""
    return heapq.nsmallest(size, counts.items(), key=lambda item: (-item[1], item[0]))


class _GenerationCache:
    """Counts that hold for one generation of the index."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.lock = threading.Lock()
        self.fields: dict[str, dict[Any, int]] = {}
        self.total: int | None = None
        self.tops: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self.columns = Columns()


class IndexState:
    """What one process remembers about the index between searches (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: ValueCodes | None = None
        self._cache: _GenerationCache | None = None

    def view(self, conn: sqlite3.Connection) -> View:
        """The caches for the snapshot ``conn`` reads (call inside its transaction)."""
        meta = dict(
            conn.execute("SELECT key, value FROM search_meta WHERE key IN ('generation', 'epoch')")
        )
        generation = int(meta["generation"])
        with self._lock:
            if self._values is None or self._values.epoch != meta["epoch"]:
                self._values = ValueCodes(meta["epoch"])
            values = self._values
            cache = self._cache
            if cache is None or cache.generation < generation:
                cache = self._cache = _GenerationCache(generation)
            elif cache.generation > generation:
                cache = _GenerationCache(generation)  # an older snapshot: its own, unshared
        values.update(conn)
        return View(conn, values, cache)

    def forget_values(self) -> None:
        """Drop the value codes (after a write that added some was rolled back)."""
        with self._lock:
            self._values = None


class View:
    """One snapshot's counts and codes; also :class:`search.backends.sqlite.query.Lookups`."""

    def __init__(
        self, conn: sqlite3.Connection, values: ValueCodes, cache: _GenerationCache
    ) -> None:
        self.conn, self.values, self.cache = conn, values, cache

    def total(self) -> int:
        """How many documents the index holds."""
        with self.cache.lock:
            known = self.cache.total
        if known is None:
            known = self.conn.execute("SELECT count(*) FROM search_doc").fetchone()[0]
            with self.cache.lock:
                self.cache.total = known
        return known

    def field_counts(self, name: str) -> dict[Any, int]:
        """Documents per code (per 0/1 for machine_readable) of one field, whole index."""
        with self.cache.lock:
            known = self.cache.fields.get(name)
        if known is None:
            known = dict(
                self.conn.execute(
                    f"SELECT {name}, count(*) FROM search_doc GROUP BY {name}"
                ).fetchall()
            )
            with self.cache.lock:
                self.cache.fields[name] = known
        return known

    def match_all(self, facets: Sequence[str], size: int) -> FacetCounts:
        """Counts over every document (the landing page: cached per generation)."""
        out: FacetCounts = {}
        for name in facets:
            with self.cache.lock:
                known = self.cache.tops.get((name, size))
            if known is None:
                known = top(self._named(name, self.field_counts(name)), size)
                with self.cache.lock:
                    self.cache.tops[(name, size)] = known
            out[name] = list(known)
        return out

    def count_docs(self, docs: Docs, facets: Sequence[str], size: int) -> FacetCounts:
        """Counts over the documents numbered ``docs`` (the hits of a query)."""
        out: FacetCounts = {}
        self.cache.columns.load_keys(self.conn, facets)
        for name in facets:
            tally = np.bincount(self.cache.columns.keys(self.conn, name)[docs])
            found = np.flatnonzero(tally)
            by_key = dict(zip(found.tolist(), tally[found].tolist(), strict=True))
            if name == "machine_readable":  # keys are shifted by one (see Columns.keys)
                by_key = {key - 1: n for key, n in by_key.items() if key}
            out[name] = top(self._named(name, by_key), size)
        return out

    def first(self, docs: Docs, sort: str, limit: int, offset: int) -> Docs:
        """The page ``[offset, offset + limit)`` of ``docs`` in sort order ``sort``
        (see :data:`search.backends.sqlite.columns.SORTS`)."""
        keys = self.cache.columns.positions(self.conn, sort)[docs]
        wanted = offset + limit
        if wanted < len(keys):
            chosen = np.argpartition(keys, wanted - 1)[:wanted]
            chosen = chosen[np.argsort(keys[chosen])]
        else:
            chosen = np.argsort(keys)
        return docs[chosen[offset:wanted]]

    def membership(self, docs: Docs) -> bytes:
        """One byte per doc number, 1 for the documents in ``docs``: SQLite asks it
        per row through ``bytes.__getitem__``, with no Python frame."""
        mask = np.zeros(len(self.cache.columns.present(self.conn)), dtype=np.uint8)
        mask[docs] = 1
        return mask.tobytes()

    def passing(self, compiled: CompiledQuery, docs: Docs | None) -> Docs:
        """The documents among ``docs`` (every one when None) that pass the filters
        of ``compiled`` (see :func:`search.backends.sqlite.columns.passing`)."""
        return passing(self.cache.columns, self.conn, compiled, docs)

    def _named(self, name: str, by_code: Mapping[Any, int]) -> Mapping[str, int]:
        """Counts by code turned into counts by value (lists spread over their values)."""
        if name == "machine_readable":
            return {bool_term(bool(k)): n for k, n in by_code.items() if k is not None}
        decoded = self.values.decode(self.conn, by_code)
        if name not in LIST_FIELDS:
            return {value: by_code[code] for code, value in decoded.items()}
        spread: Counter[str] = Counter()
        for code, packed in decoded.items():
            n = by_code[code]
            for value in unpack(packed):
                spread[value] += n
        return spread

    # -- Lookups ---------------------------------------------------------------------

    def documents_with(self, name: str, values: tuple[Any, ...]) -> int:
        """How many documents have any of ``values`` in field ``name``."""
        counts = self.field_counts(name)
        if name == "machine_readable":
            return sum(counts.get(1 if v else 0, 0) for v in values)
        return sum(counts.get(code, 0) for code in self.codes(name, values))

    def codes(self, name: str, values: tuple[Any, ...]) -> list[int]:
        return self.values.matching(name, [str(v) for v in values])
