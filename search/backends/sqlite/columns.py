"""Columns of ``search_doc`` held in numpy arrays, and a query's filters checked on them.

Reading one row per hit out of SQLite (a B-tree lookup and Python objects for every
value) is what made large result sets slow: a common word matches a tenth of the
catalog. Here each column a search needs is read once per index *generation* (the
counter every write bumps), as one ``group_concat`` string, into an array indexed by
doc number. A query then finds its text hits in FTS5 alone and checks its filters,
exclusions and ranges on those arrays (:func:`passing`); facets and date/title pages
are array operations over the hits too.

The checks mean exactly what the SQL of :mod:`search.backends.sqlite.query` means
(both are built from the same :class:`~search.backends.sqlite.query.CompiledQuery`):
text columns compare as SQLite's BINARY collation does (code point order), integers
exactly, and a missing value passes no bound.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from search.backends.sqlite.query import BoundTest, CompiledQuery, ValueTest

Docs = npt.NDArray[np.int64]
Keys = npt.NDArray[np.int32]
Mask = npt.NDArray[np.bool_]
T = TypeVar("T")

# Sort orders of hits: the text column, the stand-in that a missing value sorts as,
# and whether descending; ties by id in the same direction. As SQL: ORDER BY
# coalesce(column, stand-in) [DESC], id [DESC].
SORTS: dict[str, tuple[str, str | None, bool]] = {
    "modified": ("modified", "~", False),
    "-modified": ("modified", "", True),
    "title": ("title_key", None, False),
}
# Range columns by storage class (see search.backends.sqlite.schema); the rest are REAL.
TEXT_COLUMNS = frozenset({"created", "modified"})
INTEGER_COLUMNS = frozenset({"record_count", "size"})
_INT64 = (-(2**63), 2**63 - 1)


def parse_ints(text: str | None) -> Docs:
    """The integers of a ``group_concat`` (comma-separated; None when there were none).
    One string is far cheaper to read out of SQLite than one row per integer."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


class Columns:
    """The columns read so far for one generation of the index (thread-safe). Every
    method takes a connection reading that generation's snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], Any] = {}

    def _get(self, kind: str, name: str, load: Callable[[], T]) -> T:
        with self._lock:
            known = self._known.get((kind, name))
        if known is None:
            known = load()
            with self._lock:
                self._known[(kind, name)] = known
        return known  # type: ignore[no-any-return]

    def present(self, conn: sqlite3.Connection) -> Mask:
        """True at the doc number of every document."""

        def load() -> Mask:
            docs, last = conn.execute("SELECT group_concat(doc), max(doc) FROM search_doc").fetchone()
            out = np.zeros((last or 0) + 1, dtype=np.bool_)
            out[parse_ints(docs)] = True
            return out

        return self._get("present", "", load)

    def keys(self, conn: sqlite3.Connection, name: str) -> Keys:
        """Every document's code in field ``name``. machine_readable is shifted by
        one: 0 when unknown, 1 for false, 2 for true."""
        self.load_keys(conn, [name])
        with self._lock:
            return self._known[("keys", name)]  # type: ignore[no-any-return]

    def load_keys(self, conn: sqlite3.Connection, names: Iterable[str]) -> None:
        """Read the code columns of ``names`` not read yet, all in one scan (a search
        needs every facet's: one scan costs about half of one per column)."""
        with self._lock:
            missing = [name for name in dict.fromkeys(names) if ("keys", name) not in self._known]
        if not missing:
            return
        values = [
            "coalesce(machine_readable + 1, 0)" if name == "machine_readable" else name
            for name in missing
        ]
        # Doc numbers and values come from one scan, so they pair up in whatever
        # order the planner reads them (a covering index is not in doc order). The
        # code columns are NOT NULL, which group_concat would skip.
        row = conn.execute(
            "SELECT group_concat(doc), "
            + ", ".join(f"group_concat({value})" for value in values)
            + " FROM search_doc"
        ).fetchone()
        at, size = parse_ints(row[0]), len(self.present(conn))
        loaded = {}
        for name, text in zip(missing, row[1:], strict=True):
            out = np.zeros(size, dtype=np.int32)
            out[at] = parse_ints(text)
            loaded[("keys", name)] = out
        with self._lock:
            for key, out in loaded.items():
                self._known.setdefault(key, out)

    def ids(self, conn: sqlite3.Connection) -> Keys:
        """Every document's position in id order (a walk of the id index)."""

        def load() -> Keys:
            ordered = np.fromiter(
                (doc for (doc,) in conn.execute("SELECT doc FROM search_doc ORDER BY id")),
                dtype=np.int64,
            )
            out = np.zeros(len(self.present(conn)), dtype=np.int32)
            out[ordered] = np.arange(1, len(ordered) + 1, dtype=np.int32)
            return out

        return self._get("ids", "", load)

    def positions(self, conn: sqlite3.Connection, sort: str) -> Keys:
        """Every document's position in sort order ``sort`` (see :data:`SORTS`),
        from the ranks of its text column and of ids: no sort in SQLite."""

        def load() -> Keys:
            column, missing, descending = SORTS[sort]
            ranks, values = self.texts(conn, column)
            keys = ranks.astype(np.int64) * 2
            if missing is not None:
                # Where the stand-in value of a missing one falls among the values:
                # tied with it if present, else just before the next one.
                at = bisect_left(values, missing)
                tied = at < len(values) and values[at] == missing
                keys[ranks == 0] = 2 * at + (2 if tied else 1)
            docs = np.flatnonzero(self.present(conn))
            order = np.lexsort((self.ids(conn)[docs], keys[docs]))
            if descending:
                order = order[::-1]
            out = np.zeros(len(self.present(conn)), dtype=np.int32)
            out[docs[order]] = np.arange(1, len(docs) + 1, dtype=np.int32)
            return out

        return self._get("positions", sort, load)

    def texts(self, conn: sqlite3.Connection, column: str) -> tuple[Keys, list[str]]:
        """A text column as ranks into its sorted distinct values (rank 1 is the
        first of them; 0 when missing), and those values. SQLite sorts them (BINARY:
        code point order, as Python compares strings)."""

        def load() -> tuple[Keys, list[str]]:
            rows = conn.execute(
                f"SELECT doc, {column} FROM search_doc WHERE {column} IS NOT NULL "
                f"ORDER BY {column}"
            ).fetchall()
            docs = np.fromiter((doc for doc, _ in rows), dtype=np.int64, count=len(rows))
            starts = [i for i in range(len(rows)) if i == 0 or rows[i][1] != rows[i - 1][1]]
            step = np.zeros(len(rows), dtype=np.int32)
            step[starts] = 1
            out = np.zeros(len(self.present(conn)), dtype=np.int32)
            out[docs] = np.cumsum(step, dtype=np.int32)
            return out, [rows[i][1] for i in starts]

        return self._get("texts", column, load)

    def integers(self, conn: sqlite3.Connection, column: str) -> tuple[Docs, Mask]:
        """An integer column and where it has a value."""

        def load() -> tuple[Docs, Mask]:
            size = len(self.present(conn))
            docs, values = conn.execute(
                f"SELECT group_concat(doc), group_concat({column}) FROM search_doc "
                f"WHERE {column} IS NOT NULL"
            ).fetchone()
            out, has = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.bool_)
            at = parse_ints(docs)
            out[at], has[at] = parse_ints(values), True
            return out, has

        return self._get("integers", column, load)

    def reals(self, conn: sqlite3.Connection, column: str) -> npt.NDArray[np.float64]:
        """A REAL column, NaN where missing (NaN passes no comparison). Read row by
        row: the text form of a float may not give back the same float."""

        def load() -> npt.NDArray[np.float64]:
            out = np.full(len(self.present(conn)), np.nan)
            rows = conn.execute(
                f"SELECT doc, {column} FROM search_doc WHERE {column} IS NOT NULL"
            ).fetchall()
            if rows:
                docs, values = zip(*rows, strict=True)
                out[np.array(docs, dtype=np.int64)] = np.array(values, dtype=np.float64)
            return out

        return self._get("reals", column, load)


def passing(
    columns: Columns, conn: sqlite3.Connection, compiled: CompiledQuery, docs: Docs | None
) -> Docs:
    """The documents among ``docs`` (every document when None) that pass the query's
    filters, exclusions, ranges and excluded text."""
    present = columns.present(conn)
    if docs is None:
        docs = np.flatnonzero(present)
    else:
        docs = docs[present[docs]]
    columns.load_keys(conn, [test.name for test in compiled.tests])
    for test in compiled.tests:
        docs = docs[_values(columns, conn, test, docs) != test.negated]
    for bound in compiled.bounds:
        docs = docs[_bound(columns, conn, bound, docs)]
    if compiled.excluded is not None:
        excluded = parse_ints(
            conn.execute(
                "SELECT group_concat(rowid) FROM search_fts WHERE search_fts MATCH ?",
                (compiled.excluded,),
            ).fetchone()[0]
        )
        docs = docs[~np.isin(docs, excluded)]
    return docs


def _values(columns: Columns, conn: sqlite3.Connection, test: ValueTest, docs: Docs) -> Mask:
    keys = columns.keys(conn, test.name)[docs]
    wanted = [key + 1 for key in test.keys] if test.name == "machine_readable" else test.keys
    if not wanted:
        return np.zeros(len(docs), dtype=np.bool_)
    table = np.zeros(max(int(keys.max(initial=0)), max(wanted)) + 1, dtype=np.bool_)
    table[list(wanted)] = True
    return table[keys]


def _bound(columns: Columns, conn: sqlite3.Connection, bound: BoundTest, docs: Docs) -> Mask:
    op, value = bound.op, bound.value
    if bound.column in TEXT_COLUMNS:
        ranks, values = columns.texts(conn, bound.column)
        at = ranks[docs]
        if op in ("gte", "gt"):
            cut = bisect_left(values, value) if op == "gte" else bisect_right(values, value)
            return at > cut
        cut = bisect_left(values, value) if op == "lt" else bisect_right(values, value)
        return (at > 0) & (at <= cut)
    if bound.column in INTEGER_COLUMNS:
        numbers, has = columns.integers(conn, bound.column)
        return has[docs] & _compare(numbers[docs], op, _integer_bound(op, value))
    return _compare(columns.reals(conn, bound.column)[docs], op, value)


def _integer_bound(op: str, value: int | float) -> int:
    """An integer bound that integers pass exactly when they pass ``value``."""
    if isinstance(value, float):
        value = math.ceil(value) if op in ("gte", "lt") else math.floor(value)
    return min(max(int(value), _INT64[0]), _INT64[1])


def _compare(values: npt.NDArray[Any], op: str, bound: Any) -> Mask:
    if op == "gte":
        return values >= bound  # type: ignore[no-any-return]
    if op == "gt":
        return values > bound  # type: ignore[no-any-return]
    if op == "lte":
        return values <= bound  # type: ignore[no-any-return]
    return values < bound  # type: ignore[no-any-return]
