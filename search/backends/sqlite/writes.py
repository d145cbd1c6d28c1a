"""Writing documents into the FTS5 index tables and removing them (inside the
caller's write transaction)."""

from __future__ import annotations

import sqlite3

from search.backends.sqlite.schema import CODED_FIELDS, DOC_COLUMNS, DocumentRows
from search.backends.sqlite.values import ValueCodes

_INSERT_DOC = (
    f"INSERT OR REPLACE INTO search_doc ({', '.join(DOC_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in DOC_COLUMNS)})"
)
_CHUNK = 500  # ids per IN (...): far below SQLite's variable limit


def write_documents(
    conn: sqlite3.Connection, values: ValueCodes, batch: list[DocumentRows]
) -> None:
    """Add or replace a batch of documents (distinct ids). A replaced document keeps
    its doc number; its old text and body are removed first."""
    existing = dict(_docs_of(conn, [rows.id for rows in batch]))
    remove_docs(conn, list(existing.values()), keep_doc_rows=True)
    next_doc = conn.execute("SELECT coalesce(max(doc), 0) + 1 FROM search_doc").fetchone()[0]
    docs: list[int] = []
    for rows in batch:
        if rows.id in existing:
            docs.append(existing[rows.id])
        else:
            docs.append(next_doc)
            next_doc += 1
    pairs = list(zip(docs, batch, strict=True))
    codes = values.encode_rows(conn, CODED_FIELDS, [rows.coded for rows in batch])
    conn.executemany(
        _INSERT_DOC,
        [
            (doc, rows.id, *coded, rows.machine_readable, *rows.rest)
            for (doc, rows), coded in zip(pairs, codes, strict=True)
        ],
    )
    conn.executemany(
        "INSERT INTO search_body (doc, document) VALUES (?, ?)",
        [(doc, rows.body) for doc, rows in pairs],
    )
    conn.executemany(
        "INSERT INTO search_fts (rowid, title, description, keywords) "
        "VALUES (?, ?, ?, ?)",
        [(doc, *rows.fts_row) for doc, rows in pairs],
    )


def remove_documents(conn: sqlite3.Connection, ids: list[str]) -> int:
    """Remove documents by id; returns how many existed."""
    docs = [doc for _, doc in _docs_of(conn, ids)]
    remove_docs(conn, docs)
    return len(docs)


def remove_docs(conn: sqlite3.Connection, docs: list[int], keep_doc_rows: bool = False) -> None:
    """Delete documents' entries (all but their search_doc row with ``keep_doc_rows``,
    which the caller replaces)."""
    if not docs:
        return
    params = [(doc,) for doc in docs]
    conn.executemany("DELETE FROM search_fts WHERE rowid = ?", params)
    conn.executemany("DELETE FROM search_body WHERE doc = ?", params)
    if not keep_doc_rows:
        conn.executemany("DELETE FROM search_doc WHERE doc = ?", params)


def _docs_of(conn: sqlite3.Connection, ids: list[str]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        found.extend(conn.execute(f"SELECT id, doc FROM search_doc WHERE id IN ({marks})", chunk))
    return found
