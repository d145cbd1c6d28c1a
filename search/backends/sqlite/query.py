"""Compiles a :class:`~search.query.SceneQuery` into SQL over the FTS5 index tables.

The text becomes one FTS5 MATCH expression: each term a quoted phrase of its
analysed tokens (``"公共 共交 交通"``), alternatives OR-ed, clauses AND-ed, excluded
clauses after NOT. Filters, exclusions and ranges become checks on the
``search_doc d`` row. What drives the scan:

1. the MATCH, when the text has a positive clause;
2. else the filter on an indexed field that the fewest documents pass, through its
   code index;
3. else ``search_doc`` itself, or its ``modified`` index for a range on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from search.backends.sqlite.schema import FTS_WEIGHTS, INDEXED_FIELDS, RANGE_COLUMNS
from search.query import SceneQuery
from search.text import Clause, TextQuery

_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}


class Lookups(Protocol):
    """What compiling needs to know about the index's values."""

    def documents_with(self, name: str, values: tuple[Any, ...]) -> int:
        """About how many documents have any of ``values`` (to pick the driver)."""

    def codes(self, name: str, values: tuple[Any, ...]) -> list[int]:
        """The ``search_doc`` codes of documents having any of ``values``."""


@dataclass(frozen=True)
class ValueTest:
    """A filter, or (``negated``) an exclusion: the document's key in field ``name``
    is one of ``keys`` (value codes; 0 or 1 for machine_readable, -1 when unknown)."""

    name: str
    keys: tuple[int, ...]
    negated: bool = False


@dataclass(frozen=True)
class BoundTest:
    """A range bound on a ``search_doc`` column; a missing value never passes."""

    column: str
    op: str
    value: Any


@dataclass
class CompiledQuery:
    """``FROM … WHERE …`` over ``search_doc d`` (joined to ``search_fts f`` when the
    text has a positive clause) and its parameters; the same conditions are also
    kept as data (``tests``, ``bounds``, ``excluded``) for
    :mod:`search.backends.sqlite.columns`, which checks them without SQL."""

    match: str | None = None
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    tests: list[ValueTest] = field(default_factory=list)
    bounds: list[BoundTest] = field(default_factory=list)
    excluded: str | None = None  # the MATCH of a text with only excluded clauses

    @property
    def ranked(self) -> bool:
        """True when hits have a text relevance score."""
        return self.match is not None

    def from_where(self) -> tuple[str, list[Any]]:
        conditions = " AND ".join(self.where) if self.where else "1"
        if self.match is None:
            return f"search_doc d WHERE {conditions}", list(self.params)
        # CROSS JOIN keeps FTS5 as the outer loop: the MATCH is the selective part.
        return (
            f"search_fts f CROSS JOIN search_doc d ON d.doc = f.rowid "
            f"WHERE search_fts MATCH ? AND {conditions}",
            [self.match, *self.params],
        )

    def score_sql(self) -> str:
        """The relevance of a hit (higher is better), 0 without text."""
        if self.match is None:
            return "0.0"
        return "-bm25(search_fts, " + ", ".join(str(w) for w in FTS_WEIGHTS) + ")"

    def select_text_docs(self) -> tuple[str, list[Any]]:
        """The doc numbers of every document the positive text matches, as one
        ``group_concat`` string (None if none): FTS5 alone, no other condition."""
        return (
            "SELECT group_concat(rowid) FROM search_fts WHERE search_fts MATCH ?",
            [self.match],
        )

    def select_page(self, limit: int, offset: int, among: str | None = None) -> tuple[str, list[Any]]:
        """``(doc, score)`` of one page of the text's matches by relevance, ties by doc
        number (the order FTS5 returns them in); with ``among``, only those for which
        that SQL function of the doc number is true (the hits, as
        :mod:`search.backends.sqlite.columns` found them), so no row of ``search_doc``
        is read. SQLite keeps only ``offset + limit`` rows while it sorts."""
        keep = f" AND {among}(f.rowid)" if among else ""
        return (
            f"SELECT f.rowid, {self.score_sql()} FROM search_fts f "
            f"WHERE search_fts MATCH ?{keep} ORDER BY 2 DESC, 1 LIMIT ? OFFSET ?",
            [self.match, limit, offset],
        )

    def select_among(self, ids: list[str]) -> tuple[str, list[Any]]:
        """``SELECT id`` of the matches among ``ids``.

        Reverse matching checks a few candidates, so the id list drives the scan and
        the text is checked per candidate (FTS5 seeks the rowid in each doclist)
        instead of walking every document a common word matches.
        """
        conditions = [f"d.id IN ({', '.join('?' for _ in ids)})", *self.where]
        params: list[Any] = [*ids, *self.params]
        if self.match is not None:
            conditions.append(
                "EXISTS (SELECT 1 FROM search_fts WHERE search_fts MATCH ? AND rowid = d.doc)"
            )
            params.append(self.match)
        return f"SELECT d.id FROM search_doc d WHERE {' AND '.join(conditions)}", params

    def select_ids(self) -> tuple[str, list[Any]]:
        """``SELECT id`` of every match, ordered by id (stable for scene runs)."""
        from_where, params = self.from_where()
        return f"SELECT d.id FROM {from_where} ORDER BY d.id", params


def compile_query(
    query: SceneQuery, lookups: Lookups, now: datetime | None = None
) -> CompiledQuery:
    """The SQL for ``query``, with relative dates evaluated at ``now``."""
    out = CompiledQuery()
    _compile_text(query.text_query(), out)
    driver = None
    if out.match is None:
        candidates = [item for item in query.filters if item[0] in INDEXED_FIELDS]
        if candidates:
            driver = min(candidates, key=lambda item: lookups.documents_with(*item))[0]
    # Only the driver's column may use its index; a unary + keeps SQLite from
    # choosing another (it cannot know which filter is the selective one).
    for negated, items in ((False, query.filters), (True, query.exclude)):
        for name, values in items:
            test = _value_test(name, values, lookups, negated)
            out.tests.append(test)
            sql = _condition(test, use_index=name == driver and not negated)
            out.where.append(f"NOT {sql}" if negated else sql)
    plus = "+" if driver or out.match else ""
    for bound in query.resolve_ranges(now):
        column = RANGE_COLUMNS[bound.field]
        out.bounds.append(BoundTest(column, bound.op, bound.value))
        # A NULL column never satisfies a comparison: missing values never match.
        out.where.append(f"{plus}d.{column} {_OPS[bound.op]} ?")
        out.params.append(bound.value)
    return out


def _value_test(
    name: str, values: tuple[Any, ...], lookups: Lookups, negated: bool
) -> ValueTest:
    if name == "machine_readable":
        keys = tuple(sorted({1 if v else 0 for v in values}))
    else:
        keys = tuple(lookups.codes(name, values))
    return ValueTest(name, keys, negated)


def _condition(test: ValueTest, use_index: bool) -> str:
    """True when the row has any of the test's keys; never NULL, so NOT works."""
    column = f"d.{test.name}" if use_index else f"+d.{test.name}"
    if not test.keys:
        return "(0)"  # no document has any of the values
    if test.name == "machine_readable":
        column = f"coalesce({column}, -1)"
    # Keys are our own integers: written inline, a common tag held by thousands of
    # distinct tag lists cannot run into SQLite's limit on bound parameters.
    return f"({column} IN ({', '.join(str(int(key)) for key in test.keys)}))"


def text_match(text: TextQuery) -> str | None:
    """The FTS5 MATCH expression of a text that has a positive clause, else None."""
    positive = " AND ".join(_clause(c) for c in text.positive)
    negative = " OR ".join(_clause(c) for c in text.negative)
    if positive and negative:
        return f"({positive}) NOT ({negative})"
    return positive or None


def _compile_text(text: TextQuery, out: CompiledQuery) -> None:
    out.match = text_match(text)
    if out.match is None and text.negative:
        out.excluded = " OR ".join(_clause(c) for c in text.negative)
        # Nothing to rank by: every document except the excluded ones.
        out.where.append("d.doc NOT IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)")
        out.params.append(out.excluded)


def _clause(clause: Clause) -> str:
    # Tokens never contain a double quote (see search.text), so quoting is safe.
    phrases = [f'"{" ".join(term.tokens)}"' for term in clause.alternatives]
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"
