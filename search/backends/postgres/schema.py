"""The PostgreSQL search index: one row per document in ``search_document``.

Text: each text field is stored as its analysed tokens (:func:`search.text.index_text`,
the same bigrams the SQLite and Elasticsearch indexes hold) between spaces,
``" 公共 共交 交通 "``; tags and themes are one column whose values are separated by
the token ``_``, which no query can produce. A term then matches a field exactly when
``" " + tokens + " "`` occurs in it (tokens adjacent and in order, never across two
fields or two tags). ``tokens`` holds every distinct token of the document under a
GIN index, so a term first narrows the candidates to documents having all its
tokens, and the substring check confirms the phrase on those only.

Filters and facets: every filter field is a ``text[]`` of its exact-match values
(:func:`search.backends.terms.term_values`), so filters are ``&&`` (GIN on the
selective ones) and facets ``unnest`` + ``GROUP BY``. Dates are the normalised
``YYYY-MM-DDTHH:MM:SS`` strings every backend compares, ids and sort keys use the
"C" collation, so every order is by code point as on the other backends.
"""
from __future__ import annotations

import json
from typing import Any

from search.backends.terms import term_values
from search.query_values import FILTER_FIELDS, normalise_datetime
from search.text import index_text

SCHEMA_VERSION = "2"  # bump on any change to the table or to search.text analysis
TABLE = "search_document"
META = "search_meta"

# Filter fields whose values are selective enough to deserve a GIN index.
INDEXED_FIELDS: tuple[str, ...] = ("source", "publisher", "region", "themes", "tags", "formats")
# Range fields of the query and their columns.
RANGE_COLUMNS: dict[str, str] = {
    "created": "created",
    "modified": "modified",
    "record_count": "record_count",
    "size": "size",
    "quality.completeness": "completeness",
    "quality.timeliness": "timeliness",
    "quality.accuracy": "accuracy",
}
TEXT_COLUMNS: tuple[str, ...] = ("title_text", "description_text", "keywords_text")
# Between two tags (or themes): a token no query can produce.
VALUE_SEPARATOR = " _ "

COLUMNS: tuple[str, ...] = (
    "id",
    *TEXT_COLUMNS,
    "tokens",
    *FILTER_FIELDS,
    "created", "modified", "record_count", "size", "completeness", "timeliness", "accuracy",
    "title_key",
    "document",
)

DDL: tuple[str, ...] = (
    f"CREATE TABLE IF NOT EXISTS {META} (key text PRIMARY KEY, value text NOT NULL)",
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        id text COLLATE "C" PRIMARY KEY,
        title_text text NOT NULL,
        description_text text NOT NULL,
        keywords_text text NOT NULL,
        tokens text[] NOT NULL,
        {", ".join(f'{name} text[] COLLATE "C" NOT NULL' for name in FILTER_FIELDS)},
        created text COLLATE "C",
        modified text COLLATE "C",
        record_count bigint,
        size bigint,
        completeness double precision,
        timeliness double precision,
        accuracy double precision,
        title_key text COLLATE "C" NOT NULL,
        document text NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_tokens ON {TABLE} USING gin (tokens)",
    *(
        f"CREATE INDEX IF NOT EXISTS {TABLE}_{name} ON {TABLE} USING gin ({name})"
        for name in INDEXED_FIELDS
    ),
    f"CREATE INDEX IF NOT EXISTS {TABLE}_modified ON {TABLE} (modified, id)",
    # The landing page's default order (newest first, undated last) as an index walk.
    f"CREATE INDEX IF NOT EXISTS {TABLE}_newest ON {TABLE} (modified DESC NULLS LAST, id DESC)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_title ON {TABLE} (title_key, id)",
)
DROP: tuple[str, ...] = (f"DROP TABLE IF EXISTS {TABLE}", f"DROP TABLE IF EXISTS {META}")


def document_row(document: dict[str, Any]) -> tuple[Any, ...]:
    """The ``search_document`` row of ``document`` (values in :data:`COLUMNS` order);
    raises ValueError when it cannot be indexed."""
    if not isinstance(document, dict):
        raise ValueError("document is not an object")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise ValueError("document has no id")
    if "\x00" in doc_id:
        raise ValueError("document id contains a NUL character")
    get = document.get
    raw_quality = get("quality")
    quality: dict[str, Any] = raw_quality if isinstance(raw_quality, dict) else {}
    title = _text(get("title"))
    keywords = [index_text(v) for name in ("tags", "themes") for v in _strings(get(name))]
    texts = (
        index_text(title),
        index_text(_text(get("description"))),
        VALUE_SEPARATOR.join(k for k in keywords if k),
    )
    tokens = sorted({token for text in texts for token in text.split()} - {"_"})
    terms = [[clean_text(v) for v in term_values(document, name)] for name in FILTER_FIELDS]
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
    return (
        doc_id,
        *(f" {text} " for text in texts),
        tokens,
        *terms,
        normalise_datetime(get("created")),
        normalise_datetime(get("modified")),
        _int(get("record_count")),
        _int(get("size")),
        _float(quality.get("completeness")),
        _float(quality.get("timeliness")),
        _float(quality.get("accuracy")),
        clean_text(title.casefold()),
        body,
    )


def phrase_pattern(tokens: tuple[str, ...]) -> str:
    """What a term's tokens look like inside a stored text column."""
    return f" {' '.join(tokens)} "


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    return list(dict.fromkeys(v.strip() for v in items if isinstance(v, str) and v.strip()))


def clean_text(value: str) -> str:
    """``value`` without NUL characters, which PostgreSQL text cannot hold."""
    return value.replace("\x00", "")


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2**63) <= number < 2**63 else None  # bigint


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN compares with nothing
