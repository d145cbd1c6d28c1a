"""The scene query and the search document as the Elasticsearch backend sends them.

Both sides are shaped so the server adds no semantics of its own; every rule of
:mod:`search.query` and :mod:`search.text` is applied here, in Python, the same way
the embedded FTS5 index applies it (the parity suite holds the two together):

- text: each document text field is analysed by :func:`search.text.index_text` and
  stored under ``derived.text.*`` (whitespace tokenizer, so positions are exactly the
  reference tokens'); each query term is a ``match_phrase`` of its tokens over those
  fields. The server's own ``cjk`` analysis (title, description, …) differs in edge
  cases (stop words leave position gaps, ``asciifolding`` folds ``æ``), so it is
  kept for people querying the index directly, not for scenes.
- filters and facets: ``derived.term.*`` keywords hold the values the embedded index
  keys on (strings stripped, ``formats`` lower-cased, booleans ``true``/``false``,
  empty values left out).
- dates: ``derived.created``/``derived.modified`` hold the normalised UTC datetime;
  bounds, relative ones included, are resolved in Python at query time
  (:meth:`SceneQuery.resolve_ranges`) so both backends compare with the same instant.
- numbers: the document's own ``record_count``, ``size`` and ``quality.*``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from search.backends.terms import filter_term, term_values
from search.query import SceneQuery
from search.query_values import FILTER_FIELDS, normalise_datetime
from search.text import TEXT_FIELDS, Clause, Term, index_text

# Relevance weights per text field: the ones the embedded index gives bm25
# (title 5, description 1, tags and themes 2).
TEXT_BOOSTS: dict[str, float] = {"title": 5.0, "description": 1.0, "tags": 2.0, "themes": 2.0}
_TOKENS_ANALYZER = "scenewatch_tokens"
_LIST_TEXT_FIELDS = ("tags", "themes")
_DATE_FIELDS = {"created": "derived.created", "modified": "derived.modified"}
_NUMBER_FIELDS = {
    "record_count": "record_count", "size": "size", "quality.completeness": "quality.completeness",
    "quality.timeliness": "quality.timeliness", "quality.accuracy": "quality.accuracy",
}


def term_field(name: str) -> str:
    """The keyword field that filters and facets on ``name`` use."""
    return f"derived.term.{name}"


# -- documents ------------------------------------------------------------------------

def es_document(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` plus its ``derived`` fields, as indexed; raises ValueError when it
    has no usable id."""
    if not isinstance(document, dict):
        raise ValueError("document is not an object")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise ValueError("document has no id")
    title = document.get("title")
    title = title if isinstance(title, str) else ""
    derived: dict[str, Any] = {
        "text": {name: _analysed(name, document.get(name)) for name in TEXT_FIELDS},
        "term": {name: values for name in FILTER_FIELDS if (values := term_values(document, name))},
        "title_key": title.casefold(),
    }
    for name, target in _DATE_FIELDS.items():
        value = normalise_datetime(document.get(name))
        if value is not None:
            derived[target.split(".", 1)[1]] = value
    return {**document, "derived": derived}


def _analysed(name: str, value: Any) -> str | list[str]:
    """Analysed text of a field. Values of the list fields (tags, themes) stay apart so
    a phrase never spans two of them (the mapping's position gap); the other fields
    count only when they are strings, as in the embedded index."""
    if isinstance(value, str):
        return index_text(value)
    if name in _LIST_TEXT_FIELDS and isinstance(value, (list, tuple)):
        return [text for v in value if isinstance(v, str) and (text := index_text(v))]
    return ""


def source_document(source: dict[str, Any]) -> dict[str, Any]:
    """A hit's ``_source`` back as the search document (``derived`` removed)."""
    return {k: v for k, v in source.items() if k != "derived"}


# -- queries --------------------------------------------------------------------------

def is_ranked(query: SceneQuery) -> bool:
    """True when the text has a positive clause (something to score by)."""
    return bool(query.text_query().positive)


def compile_query(query: SceneQuery, now: datetime | None = None) -> dict[str, Any]:
    """The query DSL for ``query``; relative dates are evaluated at ``now``."""
    text = query.text_query()
    must = [_clause(c) for c in text.positive]
    must_not = [_clause(c) for c in text.negative]
    filters: list[dict[str, Any]] = []
    for name, values in query.filters:
        filters.append({"terms": {term_field(name): [filter_term(v) for v in values]}})
    for name, values in query.exclude:
        must_not.append({"terms": {term_field(name): [filter_term(v) for v in values]}})
    for bound in query.resolve_ranges(now):
        field = _DATE_FIELDS.get(bound.field) or _NUMBER_FIELDS[bound.field]
        filters.append({"range": {field: {bound.op: bound.value}}})
    if not (must or must_not or filters):
        return {"match_all": {}}
    body: dict[str, Any] = {}
    if must:
        body["must"] = must
    if filters:
        body["filter"] = filters
    if must_not:
        body["must_not"] = must_not
    return {"bool": body}


def _clause(clause: Clause) -> dict[str, Any]:
    """Any alternative, in any text field."""
    should = [_phrase(term, name) for term in clause.alternatives for name in TEXT_FIELDS]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _phrase(term: Term, name: str) -> dict[str, Any]:
    return {"match_phrase": {f"derived.text.{name}": {
        "query": " ".join(term.tokens), "analyzer": _TOKENS_ANALYZER, "boost": TEXT_BOOSTS[name],
    }}}


def compile_sort(sort: str, ranked: bool) -> list[dict[str, Any]]:
    """Sort keys for ``sort``, ending with the id so pages are stable.

    As on the embedded index: missing dates last both ways, ``-modified`` breaks ties
    by id descending, and ``relevance`` without text to score falls back to
    ``-modified``."""
    if sort == "relevance" and not ranked:
        sort = "-modified"
    if sort == "relevance":
        return [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
    if sort == "modified":
        return [{"derived.modified": {"order": "asc", "missing": "_last"}},
                {"id": {"order": "asc"}}]
    if sort == "-modified":
        return [{"derived.modified": {"order": "desc", "missing": "_last"}},
                {"id": {"order": "desc"}}]
    return [{"derived.title_key": {"order": "asc"}}, {"id": {"order": "asc"}}]


def compile_facets(facets: tuple[str, ...] | list[str], size: int) -> dict[str, Any]:
    """One terms aggregation per facet: top ``size`` values by count, then value
    (the names are checked by the base backend)."""
    return {
        name: {"terms": {"field": term_field(name), "size": max(1, size),
                         "order": [{"_count": "desc"}, {"_key": "asc"}]}}
        for name in facets
    }


def read_facets(aggregations: dict[str, Any] | None, facets: tuple[str, ...] | list[str],
                size: int) -> dict[str, list[tuple[str, int]]]:
    """Facet counts from a search response's ``aggregations``."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in facets:
        buckets = ((aggregations or {}).get(name) or {}).get("buckets", [])
        out[name] = [(str(b["key"]), int(b["doc_count"])) for b in buckets][:max(0, size)]
    return out
