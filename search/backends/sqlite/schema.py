"""Tables of the embedded FTS5 index and how a search document becomes their rows.

The index is derived data (rebuilt from the catalog by a reindex), so it is created
here with ``CREATE ... IF NOT EXISTS`` rather than migrated, and dropped and
recreated when :data:`SCHEMA_VERSION` changes.

- ``search_doc``: one row per document (``doc`` = integer key) holding every filter,
  range and sort value, so that a candidate is checked, sorted and counted into
  facets from this one row. Filter fields are stored as codes (``search_value``):
  the code of the value, or for a list field the code of the whole *packed* list
  (``\x1fcsv\x1fjson\x1f``); a filter on ``formats: csv`` becomes ``formats IN
  (codes of the lists holding csv)``. The code columns of the selective fields are
  indexed, so the most selective filter can drive a text-less query.
- ``search_value``: the codes; see :mod:`search.backends.sqlite.values`.
- ``search_body``: the stored document JSON, read only for the page of hits.
- ``search_fts``: FTS5 over pre-analysed text (:func:`search.text.index_text`) split
  on spaces, so SQLite's tokenizer adds no analysis of its own.
- ``search_meta``: schema version, the code epoch (new on every clear) and a
  generation counter bumped by every write, which keys in-process caches.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from search.query_values import FILTER_FIELDS, normalise_datetime
from search.regions import document_regions
from search.text import index_text, index_value

SCHEMA_VERSION = "6"  # bump on any change to the tables or to search.text analysis
TABLES = ("search_fts", "search_body", "search_doc", "search_value", "search_meta")

# Field numbers in search_value.
FIELD_CODES: dict[str, int] = {name: i for i, name in enumerate(FILTER_FIELDS)}
# region is a list: every level of the document's region path (search.regions).
LIST_FIELDS: tuple[str, ...] = ("region", "themes", "tags", "formats")
TEXT_COLUMNS: tuple[str, ...] = (
    "source",
    "publisher",
    "open_type",
    "update_frequency",
    "license",
)
CODED_FIELDS: tuple[str, ...] = TEXT_COLUMNS + LIST_FIELDS
# Fields whose code column is indexed: selective enough to drive a query. The others
# (open_type, update_frequency, license, machine_readable) have a handful of values,
# each shared by a large part of the catalog, where a scan is as fast.
INDEXED_FIELDS: tuple[str, ...] = ("source", "publisher", "region", "themes", "tags", "formats")
SEP = "\x1f"

# bm25 weights of the FTS columns: title, description, keywords (tags+themes).
FTS_WEIGHTS = (5.0, 1.0, 2.0)
# Between two values of a list field (tags): a token no query can produce, so a
# phrase never spans two tags.
VALUE_SEPARATOR = " _ "

DOC_COLUMNS: tuple[str, ...] = (
    "doc",
    "id",
    *CODED_FIELDS,
    "machine_readable",
    "created",
    "modified",
    "record_count",
    "size",
    "completeness",
    "timeliness",
    "accuracy",
    "title_key",
)
# The FTS5 tokenizer only splits on spaces: the characters search.text keeps inside
# a token are declared token characters.
_TOKENIZE = "unicode61 remove_diacritics 0 tokenchars '._,'''"

DDL = [
    "CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS search_value (
        code INTEGER PRIMARY KEY,
        field INTEGER NOT NULL,
        value TEXT NOT NULL,
        UNIQUE (field, value))""",
    """CREATE TABLE IF NOT EXISTS search_doc (
        doc INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        source INTEGER NOT NULL, publisher INTEGER NOT NULL, region INTEGER NOT NULL,
        open_type INTEGER NOT NULL, update_frequency INTEGER NOT NULL, license INTEGER NOT NULL,
        themes INTEGER NOT NULL, tags INTEGER NOT NULL, formats INTEGER NOT NULL,
        machine_readable INTEGER,
        created TEXT, modified TEXT,
        record_count INTEGER, size INTEGER,
        completeness REAL, timeliness REAL, accuracy REAL,
        title_key TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS search_doc_modified ON search_doc (modified)",
    "CREATE INDEX IF NOT EXISTS search_doc_title ON search_doc (title_key)",
    *(
        f"CREATE INDEX IF NOT EXISTS search_doc_{name} ON search_doc ({name})"
        for name in INDEXED_FIELDS
    ),
    "CREATE TABLE IF NOT EXISTS search_body (doc INTEGER PRIMARY KEY, document TEXT NOT NULL)",
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        title, description, keywords, tokenize = "{_TOKENIZE}")""",
    "INSERT OR IGNORE INTO search_meta (key, value) VALUES ('generation', '0')",
]

# Columns of search_doc that range bounds compare, by query field name.
RANGE_COLUMNS: dict[str, str] = {
    "created": "created",
    "modified": "modified",
    "record_count": "record_count",
    "size": "size",
    "quality.completeness": "completeness",
    "quality.timeliness": "timeliness",
    "quality.accuracy": "accuracy",
}


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the index tables, replacing them if they were built by another schema.
    Runs statement by statement: executescript() would commit the caller's transaction."""
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_meta'").fetchone()
    if has_meta:
        found = conn.execute("SELECT value FROM search_meta WHERE key = 'schema'").fetchone()
        if found is not None and found[0] != SCHEMA_VERSION:
            drop_tables(conn)
    for statement in DDL:
        conn.execute(statement)
    conn.execute(
        "INSERT OR REPLACE INTO search_meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
    )
    if not conn.execute("SELECT 1 FROM search_meta WHERE key = 'epoch'").fetchone():
        new_epoch(conn)


def new_epoch(conn: sqlite3.Connection) -> None:
    """Mark the value codes as renumbered (after the tables were emptied)."""
    conn.execute(
        "INSERT OR REPLACE INTO search_meta (key, value) "
        "VALUES ('epoch', lower(hex(randomblob(8))))"
    )


def drop_tables(conn: sqlite3.Connection, keep_meta: bool = False) -> None:
    for table in TABLES:
        if not (keep_meta and table == "search_meta"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def pack(values: list[str]) -> str:
    """A list field as one value; '' when empty."""
    return SEP + SEP.join(values) + SEP if values else ""


def unpack(packed: str) -> list[str]:
    return packed.strip(SEP).split(SEP) if packed else []


@dataclass
class DocumentRows:
    """Everything one document writes into the index; ``doc`` and the codes of the
    coded fields are assigned at write time."""

    id: str
    coded: tuple[str, ...]  # CODED_FIELDS values, lists packed
    machine_readable: int | None
    rest: tuple[Any, ...]  # DOC_COLUMNS after machine_readable
    fts_row: tuple[str, str, str]  # title, description, keywords
    body: str


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
    lists = {
        "region": _values(document_regions(document)),
        "themes": _values(get("themes")),
        "tags": _values(get("tags")),
        "formats": list(dict.fromkeys([v.lower() for v in _values(get("formats"))])),
    }
    coded = (
        *[_value(get(name)) for name in TEXT_COLUMNS],
        *[pack(lists[name]) for name in LIST_FIELDS],
    )
    rest = (
        _datetime(get("created")),
        _datetime(get("modified")),
        _int(get("record_count")),
        _int(get("size")),
        _float(quality.get("completeness")),
        _float(quality.get("timeliness")),
        _float(quality.get("accuracy")),
        title.casefold(),
    )
    keywords = [index_value(k) for k in lists["tags"] + lists["themes"]]
    fts_row = (
        index_text(title),
        index_text(_text(get("description"))),
        VALUE_SEPARATOR.join([k for k in keywords if k]),
    )
    body = _json_body(document)
    machine_code = (1 if machine else 0) if isinstance(machine, bool) else None
    return DocumentRows(doc_id, coded, machine_code, rest, fts_row, body)


_json_body = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


@lru_cache(maxsize=65536)  # a portal dates many datasets the same day
def _cached_datetime(value: str) -> str | None:
    return normalise_datetime(value)


def _datetime(value: Any) -> str | None:
    return _cached_datetime(value) if isinstance(value, str) else normalise_datetime(value)


def bool_term(value: bool) -> str:
    return "true" if value else "false"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _value(value: Any) -> str:
    # The separator cannot be part of a value, or packed lists would split wrongly.
    return value.strip().replace(SEP, " ") if isinstance(value, str) else ""


def _values(value: Any) -> list[str]:
    """The distinct non-empty values of a list field (a lone string is a list of one)."""
    if isinstance(value, str):
        value = (value,)
    elif not isinstance(value, (list, tuple)):
        return []
    found: dict[str, None] = {}
    for item in value:
        if isinstance(item, str):
            item = item.strip()  # the separator is whitespace to strip(): only inner ones stay
            if item:
                found[item.replace(SEP, " ") if SEP in item else item] = None
    return list(found)


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
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN compares with nothing
