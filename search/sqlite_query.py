"""Compiles a :class:`~search.query.SceneQuery` into SQL over the FTS5 index tables.

The text becomes one FTS5 MATCH expression: each term a quoted phrase of its
analysed tokens (``"公共 共交 交通"``), alternatives OR-ed, clauses AND-ed, excluded
clauses after NOT. Filters, exclusions and ranges become conditions on
``search_doc`` (alias ``d``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from search.query import SceneQuery
from search.sqlite_schema import FIELD_CODES, FTS_WEIGHTS, RANGE_COLUMNS, bool_term
from search.text import Clause, TextQuery

_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
SORTS = ("relevance", "modified", "-modified", "title")


@dataclass
class CompiledQuery:
    """SQL pieces for one query: ``match`` (FTS5 expression or None) ranks and drives
    the search when present; ``where`` conditions apply to ``search_doc d``."""

    match: str | None = None
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    @property
    def ranked(self) -> bool:
        return self.match is not None

    def where_sql(self) -> str:
        return " AND ".join(self.where) if self.where else "1"

    def select_hits(self) -> tuple[str, list[Any]]:
        """``SELECT doc, score`` of every match (score: higher is better, 0 unranked)."""
        if self.match is None:
            return f"SELECT d.doc, 0.0 FROM search_doc d WHERE {self.where_sql()}", list(self.params)
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        # CROSS JOIN keeps FTS5 as the outer loop: the MATCH is the selective part.
        sql = (
            f"SELECT f.rowid, -bm25(search_fts, {weights}) FROM search_fts f "
            f"CROSS JOIN search_doc d ON d.doc = f.rowid "
            f"WHERE search_fts MATCH ? AND {self.where_sql()}"
        )
        return sql, [self.match, *self.params]

    def select_ids(self) -> tuple[str, list[Any]]:
        """``SELECT id`` of every match, ordered by id (stable for scene runs)."""
        if self.match is None:
            return f"SELECT d.id FROM search_doc d WHERE {self.where_sql()} ORDER BY d.id", list(self.params)
        sql = (
            "SELECT d.id FROM search_doc d WHERE d.doc IN "
            f"(SELECT rowid FROM search_fts WHERE search_fts MATCH ?) AND {self.where_sql()} ORDER BY d.id"
        )
        return sql, [self.match, *self.params]


def compile_query(query: SceneQuery, now: datetime | None = None) -> CompiledQuery:
    """The SQL for ``query``, with relative dates evaluated at ``now``."""
    out = CompiledQuery()
    _compile_text(query.text_query(), out)
    for name, values in query.filters:
        sql, params = _term_subquery(name, values)
        out.where.append(f"d.doc IN ({sql})")
        out.params.extend(params)
    for name, values in query.exclude:
        sql, params = _term_subquery(name, values)
        out.where.append(f"d.doc NOT IN ({sql})")
        out.params.extend(params)
    for bound in query.resolve_ranges(now):
        # A NULL column never satisfies a comparison: missing values never match.
        out.where.append(f"d.{RANGE_COLUMNS[bound.field]} {_OPS[bound.op]} ?")
        out.params.append(bound.value)
    return out


def _term_subquery(name: str, values: tuple[Any, ...]) -> tuple[str, list[Any]]:
    terms = [bool_term(v) if isinstance(v, bool) else v for v in values]
    marks = ", ".join("?" for _ in terms)
    return f"SELECT doc FROM search_term WHERE field = ? AND value IN ({marks})", [FIELD_CODES[name], *terms]


def _compile_text(text: TextQuery, out: CompiledQuery) -> None:
    positive = " AND ".join(_clause(c) for c in text.positive)
    negative = " OR ".join(_clause(c) for c in text.negative)
    if positive and negative:
        out.match = f"({positive}) NOT ({negative})"
    elif positive:
        out.match = positive
    elif negative:
        # Nothing to rank by: every document except the excluded ones.
        out.where.append("d.doc NOT IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?)")
        out.params.append(negative)


def _clause(clause: Clause) -> str:
    # Tokens never contain a double quote (see search.text), so quoting is safe.
    phrases = [f'"{" ".join(term.tokens)}"' for term in clause.alternatives]
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"
