"""Compiles a :class:`~search.query.SceneQuery` into SQL over ``search_document d``.

- a text term: ``d.tokens @> <its tokens>`` (GIN) and its phrase pattern in one of
  the text columns (see :mod:`.schema`); alternatives OR-ed, clauses AND-ed,
  excluded clauses under NOT;
- a filter: ``d.<field> && <values>``; an exclusion: the same under NOT;
- a range: a comparison on its column (NULL never matches).

Relevance is a field-weighted count of the positive terms found (title 5,
description 1, tags and themes 2, the weights the other backends give their
scores); ties go by id. Only the members of a relevance page are held to parity,
not its order, so this simple score is enough and costs one pass over the hits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from search.backends.postgres.schema import RANGE_COLUMNS, TEXT_COLUMNS, clean_text, phrase_pattern
from search.backends.terms import filter_term
from search.query import SceneQuery
from search.text import Clause, Term

_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
_WEIGHTS = dict(zip(TEXT_COLUMNS, (5, 1, 2), strict=True))
# Sort keys; the id last keeps pages stable. Missing dates come last both ways.
ORDER_BY: dict[str, str] = {
    "relevance": "score DESC, id",
    "modified": "modified ASC NULLS LAST, id",
    "-modified": "modified DESC NULLS LAST, id DESC",
    "title": "title_key, id",
}


@dataclass
class CompiledQuery:
    """``WHERE`` conditions over ``search_document d`` and the relevance expression,
    each with its ``%s`` parameters."""

    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    score: str = "0.0"
    score_params: list[Any] = field(default_factory=list)

    @property
    def ranked(self) -> bool:
        """True when hits have a text relevance score."""
        return bool(self.score_params)

    def condition(self) -> tuple[str, list[Any]]:
        """The whole ``WHERE`` condition and its parameters."""
        return (" AND ".join(self.where) or "TRUE"), list(self.params)


def compile_query(query: SceneQuery, now: datetime | None = None) -> CompiledQuery:
    """The SQL for ``query``, with relative dates evaluated at ``now``."""
    out = CompiledQuery()
    text = query.text_query()
    for clause in text.positive:
        sql, params = _clause(clause)
        out.where.append(sql)
        out.params.extend(params)
    for clause in text.negative:
        sql, params = _clause(clause)
        out.where.append(f"NOT {sql}")
        out.params.extend(params)
    for name, values in query.filters:
        out.where.append(f"d.{name} && %s::text[]")
        out.params.append(_terms(values))
    for name, values in query.exclude:
        out.where.append(f"NOT (d.{name} && %s::text[])")
        out.params.append(_terms(values))
    for bound in query.resolve_ranges(now):
        column = RANGE_COLUMNS[bound.field]
        cast = "::text" if isinstance(bound.value, str) else ""
        out.where.append(f"d.{column} {_OPS[bound.op]} %s{cast}")
        out.params.append(bound.value)
    terms = [term for clause in text.positive for term in clause.alternatives]
    if terms:
        parts = [
            f"{weight} * (strpos(d.{column}, %s) > 0)::int"
            for _ in terms
            for column, weight in _WEIGHTS.items()
        ]
        out.score = "(" + " + ".join(parts) + ")::float8"
        out.score_params = [phrase_pattern(t.tokens) for t in terms for _ in _WEIGHTS]
    return out


def _terms(values: tuple[str | bool, ...]) -> list[str]:
    # PostgreSQL text holds no NUL; indexed values had theirs removed the same way.
    return [clean_text(filter_term(v)) for v in values]


def _clause(clause: Clause) -> tuple[str, list[Any]]:
    """Any alternative matches; never NULL, so NOT works."""
    parts: list[str] = []
    params: list[Any] = []
    for term in clause.alternatives:
        sql, term_params = _term(term)
        parts.append(sql)
        params.extend(term_params)
    return "(" + " OR ".join(parts) + ")", params


def _term(term: Term) -> tuple[str, list[Any]]:
    pattern = phrase_pattern(term.tokens)
    found = " OR ".join(f"strpos(d.{column}, %s) > 0" for column in TEXT_COLUMNS)
    return (
        f"(d.tokens @> %s::text[] AND ({found}))",
        [sorted(set(term.tokens)), *([pattern] * len(TEXT_COLUMNS))],
    )
