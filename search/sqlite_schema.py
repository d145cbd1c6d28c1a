"""Tables of the embedded FTS5 index and how a search document becomes their rows.

The index is derived data (rebuilt from the catalog by a reindex), so it is created
here with ``CREATE ... IF NOT EXISTS`` rather than migrated, and dropped and
recreated when :data:`SCHEMA_VERSION` changes.

- ``search_doc``: one narrow row per document (``doc`` = integer key) with the range
  and sort columns; narrow so range scans and sorts touch few pages.
- ``search_body``: the stored document JSON, read only for the page of hits.
- ``search_term``: (field code, value, doc) for every filter field, multi-valued ones
  included; its primary key serves filters, its ``doc`` index facets and deletes.
- ``search_fts``: FTS5 over pre-analysed text (:func:`search.text.index_text`) split
  on spaces, so SQLite's tokenizer adds no analysis of its own.
- ``search_meta``: schema version and a generation counter bumped by every write,
  which keys the cached match-all facet counts.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from search.query_values import FILTER_FIELDS, normalise_datetime
from search.text import index_text

SCHEMA_VERSION = "1"
TABLES = ("search_fts", "search_term", "search_body", "search_doc", "search_meta")

# Field names are stored as small integers: the term table is the largest table and
# its index is walked by every filter and facet.
FIELD_CODES: dict[str, int] = {name: i for i, name in enumerate(FILTER_FIELDS)}

# bm25 weights of the FTS columns: title, description, publisher, keywords (tags+themes).
FTS_WEIGHTS = (5.0, 1.0, 1.5, 2.0)
# Between two values of a list field (tags): a token no query can produce, so a
# phrase never spans two tags.
VALUE_SEPARATOR = " _ "

DDL = f"""
CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_doc (
    doc INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created TEXT,
    modified TEXT,
    record_count INTEGER,
    size INTEGER,
    completeness REAL,
    timeliness REAL,
    accuracy REAL,
    title_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS search_doc_modified ON search_doc (modified, id);
CREATE INDEX IF NOT EXISTS search_doc_created ON search_doc (created);
CREATE INDEX IF NOT EXISTS search_doc_record_count ON search_doc (record_count);
CREATE INDEX IF NOT EXISTS search_doc_size ON search_doc (size);
CREATE INDEX IF NOT EXISTS search_doc_title ON search_doc (title_key, id);
CREATE TABLE IF NOT EXISTS search_body (doc INTEGER PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_term (
    field INTEGER NOT NULL,
    value TEXT NOT NULL,
    doc INTEGER NOT NULL,
    PRIMARY KEY (field, value, doc)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_term_doc ON search_term (doc, field, value);
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
    found = conn.execute(
        "SELECT value FROM search_meta WHERE key = 'schema'"
        if _has_table(conn, "search_meta") else "SELECT NULL WHERE 0"
    ).fetchone()
    if found is not None and found[0] != SCHEMA_VERSION:
        drop_tables(conn)
    # Statement by statement: executescript() would commit the caller's transaction.
    for statement in DDL.split(";\n"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT OR REPLACE INTO search_meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))


def drop_tables(conn: sqlite3.Connection, keep_meta: bool = False) -> None:
    for table in TABLES:
        if keep_meta and table == "search_meta":
            continue
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


@dataclass
class DocumentRows:
    """Everything one document writes into the index (``doc`` assigned at write time)."""

    id: str
    doc_row: tuple[Any, ...]  # search_doc columns after doc and id
    terms: list[tuple[int, str]]
    fts_row: tuple[str, str, str, str]
    body: str


def document_rows(document: dict[str, Any]) -> DocumentRows:
    """Convert a search document; raises ValueError when it cannot be indexed."""
    if not isinstance(document, dict):
        raise ValueError("document is not an object")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise ValueError("document has no id")
    quality = document.get("quality") if isinstance(document.get("quality"), dict) else {}
    title = _text(document.get("title"))
    doc_row = (
        normalise_datetime(document.get("created")),
        normalise_datetime(document.get("modified")),
        _int(document.get("record_count")),
        _int(document.get("size")),
        _float(quality.get("completeness")),
        _float(quality.get("timeliness")),
        _float(quality.get("accuracy")),
        title.casefold(),
    )
    keywords = _list(document.get("tags")) + _list(document.get("themes"))
    fts_row = (
        index_text(title),
        index_text(_text(document.get("description"))),
        index_text(_text(document.get("publisher"))),
        VALUE_SEPARATOR.join(filter(None, (index_text(k) for k in keywords))),
    )
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
    return DocumentRows(doc_id, doc_row, term_values(document), fts_row, body)


def term_values(document: dict[str, Any]) -> list[tuple[int, str]]:
    """(field code, value) for every filter field value of the document."""
    out: set[tuple[int, str]] = set()
    for name, code in FIELD_CODES.items():
        raw = document.get(name)
        if name == "machine_readable":
            if isinstance(raw, bool):
                out.add((code, bool_term(raw)))
            continue
        for value in (raw if isinstance(raw, (list, tuple)) else [raw]):
            if isinstance(value, str) and value.strip():
                value = value.strip()
                out.add((code, value.lower() if name == "formats" else value))
    return sorted(out)


def bool_term(value: bool) -> str:
    return "true" if value else "false"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
