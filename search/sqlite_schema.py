"""Tables of the embedded FTS5 index and how a search document becomes their rows.

The index is derived data (rebuilt from the catalog by a reindex), so it is created
here with ``CREATE ... IF NOT EXISTS`` rather than migrated, and dropped and
recreated when :data:`SCHEMA_VERSION` changes.

- ``search_doc``: one row per document (``doc`` = integer key) holding every filter,
  range and sort value, so that a candidate is checked, sorted and counted into
  facets from this one row. List fields are *packed*: ``\\x1fcsv\\x1fjson\\x1f``.
- ``search_body``: the stored document JSON, read only for the page of hits.
- ``search_term``: (field code, value, doc) for every filter value: the inverted
  list that drives a filter-only query from its most selective filter, and the
  source of match-all facet counts.
- ``search_fts``: FTS5 over pre-analysed text (:func:`search.text.index_text`) split
  on spaces, so SQLite's tokenizer adds no analysis of its own.
- ``search_meta``: schema version and a generation counter bumped by every write,
  which keys the in-process caches of value counts.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from search.query_values import FILTER_FIELDS, normalise_datetime
from search.text import index_text

SCHEMA_VERSION = "2"
TABLES = ("search_fts", "search_term", "search_body", "search_doc", "search_meta")

# Field names are stored as small integers in the term table, its largest table.
FIELD_CODES: dict[str, int] = {name: i for i, name in enumerate(FILTER_FIELDS)}
LIST_FIELDS: tuple[str, ...] = ("themes", "tags", "formats")
TEXT_COLUMNS: tuple[str, ...] = ("source", "publisher", "region", "open_type", "update_frequency", "license")
SEP = "\x1f"

# bm25 weights of the FTS columns: title, description, publisher, keywords (tags+themes).
FTS_WEIGHTS = (5.0, 1.0, 1.5, 2.0)
# Between two values of a list field (tags): a token no query can produce, so a
# phrase never spans two tags.
VALUE_SEPARATOR = " _ "

DOC_COLUMNS: tuple[str, ...] = (
    "doc", "id", *TEXT_COLUMNS, "machine_readable", *LIST_FIELDS, "created", "modified",
    "record_count", "size", "completeness", "timeliness", "accuracy", "title_key",
)

DDL = """
CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_doc (
    doc INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL, publisher TEXT NOT NULL, region TEXT NOT NULL,
    open_type TEXT NOT NULL, update_frequency TEXT NOT NULL, license TEXT NOT NULL,
    machine_readable INTEGER,
    themes TEXT NOT NULL, tags TEXT NOT NULL, formats TEXT NOT NULL,
    created TEXT, modified TEXT,
    record_count INTEGER, size INTEGER,
    completeness REAL, timeliness REAL, accuracy REAL,
    title_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_doc_modified ON search_doc (modified);
CREATE INDEX IF NOT EXISTS search_doc_title ON search_doc (title_key);
CREATE TABLE IF NOT EXISTS search_body (doc INTEGER PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_term (
    field INTEGER NOT NULL,
    value TEXT NOT NULL,
    doc INTEGER NOT NULL,
    PRIMARY KEY (field, value, doc)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    title, description, publisher, keywords,
    tokenize = "unicode61 remove_diacritics 0 tokenchars '._,'''"
);
INSERT OR IGNORE INTO search_meta (key, value) VALUES ('generation', '0');
"""

# Columns of search_doc that range bounds compare, by query field name.
RANGE_COLUMNS: dict[str, str] = {
    "created": "created", "modified": "modified", "record_count": "record_count",
    "size": "size", "quality.completeness": "completeness",
    "quality.timeliness": "timeliness", "quality.accuracy": "accuracy",
}


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the index tables, replacing them if they were built by another schema."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_meta'").fetchone()
    if has_meta:
        found = conn.execute("SELECT value FROM search_meta WHERE key = 'schema'").fetchone()
        if found is not None and found[0] != SCHEMA_VERSION:
            drop_tables(conn)
    # Statement by statement: executescript() would commit the caller's transaction.
    for statement in DDL.split(";\n"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT OR REPLACE INTO search_meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))


def drop_tables(conn: sqlite3.Connection, keep_meta: bool = False) -> None:
    for table in TABLES:
        if not (keep_meta and table == "search_meta"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def pack(values: list[str]) -> str:
    """A list field as one column value; '' when empty."""
    return SEP + SEP.join(values) + SEP if values else ""


def unpack(packed: str) -> list[str]:
    return packed.strip(SEP).split(SEP) if packed else []


@dataclass
class DocumentRows:
    """Everything one document writes into the index (``doc`` assigned at write time)."""

    id: str
    doc_row: tuple[Any, ...]  # DOC_COLUMNS after doc and id
    fts_row: tuple[str, str, str, str]
    body: str

    def terms(self) -> list[tuple[int, str]]:
        return terms_of_row(self.doc_row)


def document_rows(document: dict[str, Any]) -> DocumentRows:
    """Convert a search document; raises ValueError when it cannot be indexed."""
    if not isinstance(document, dict):
        raise ValueError("document is not an object")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise ValueError("document has no id")
    get = document.get
    quality = get("quality")
    if not isinstance(quality, dict):
        quality = {}
    title = _text(get("title"))
    machine = get("machine_readable")
    lists = {name: _values(get(name)) for name in LIST_FIELDS}
    lists["formats"] = list(dict.fromkeys(v.lower() for v in lists["formats"]))
    doc_row = (
        *(_value(get(name)) for name in TEXT_COLUMNS),
        (1 if machine else 0) if isinstance(machine, bool) else None,
        *(pack(lists[name]) for name in LIST_FIELDS),
        normalise_datetime(get("created")),
        normalise_datetime(get("modified")),
        _int(get("record_count")),
        _int(get("size")),
        _float(quality.get("completeness")),
        _float(quality.get("timeliness")),
        _float(quality.get("accuracy")),
        title.casefold(),
    )
    keywords = [index_text(k) for k in lists["tags"] + lists["themes"]]
    fts_row = (
        index_text(title),
        index_text(_text(get("description"))),
        index_text(_text(get("publisher"))),
        VALUE_SEPARATOR.join(k for k in keywords if k),
    )
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
    return DocumentRows(doc_id, doc_row, fts_row, body)


_TEXT_AT = {name: i for i, name in enumerate(TEXT_COLUMNS)}
_MACHINE_AT = len(TEXT_COLUMNS)
_LIST_AT = {name: _MACHINE_AT + 1 + i for i, name in enumerate(LIST_FIELDS)}


def terms_of_row(doc_row: tuple[Any, ...]) -> list[tuple[int, str]]:
    """(field code, value) of every filter value held in a ``search_doc`` row (after
    doc and id): what the term table holds for that document."""
    out = [(FIELD_CODES[name], doc_row[i]) for name, i in _TEXT_AT.items() if doc_row[i]]
    if doc_row[_MACHINE_AT] is not None:
        out.append((FIELD_CODES["machine_readable"], bool_term(bool(doc_row[_MACHINE_AT]))))
    for name, i in _LIST_AT.items():
        out.extend((FIELD_CODES[name], value) for value in unpack(doc_row[i]))
    return out


def bool_term(value: bool) -> str:
    return "true" if value else "false"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _value(value: Any) -> str:
    # The separator cannot be part of a value, or packed lists would split wrongly.
    return value.strip().replace(SEP, " ") if isinstance(value, str) else ""


def _values(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    return list(dict.fromkeys(v for v in map(_value, items) if v))


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
