"""The embedded search backend: SQLite FTS5 tables next to (or inside) the catalog store.

Semantics are those of :mod:`search.query` and :mod:`search.text`; the tables are
described in :mod:`search.backends.sqlite.schema`, query compilation in
:mod:`search.backends.sqlite.query`, facet counting in :mod:`search.backends.sqlite.facets`.

A search reads one snapshot: it finds the doc numbers of the hits (the text's in
FTS5, the filters checked on per-generation columns, :mod:`~search.backends.sqlite.columns`),
which give the total and the facets (:mod:`~search.backends.sqlite.facets`); then
the page, by relevance in a statement that sorts with a LIMIT (only it computes
scores), else from the hits' positions in the sort order; then reads the stored
documents of the page only. An empty query skips all that: its
total, first pages (index walks) and facets (cached per index generation) are cheap.

Threads: each thread gets its own connection (Flask serves requests from threads);
:meth:`SqliteSearchBackend.iter_ids` opens one of its own, since its generator may
outlive the call. WAL lets searches read while a harvest indexes. Needs SQLite 3.35+.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from search.backends.base import BaseSearchBackend, Hit, IndexReport, SearchResult
from search.backends.sqlite.columns import parse_ints
from search.backends.sqlite.facets import FacetCounts, IndexState, View
from search.backends.sqlite.query import CompiledQuery, compile_query
from search.backends.sqlite.schema import (
    DocumentRows,
    create_tables,
    document_rows,
    drop_tables,
    new_epoch,
)
from search.backends.sqlite.writes import remove_documents, write_documents
from search.query import SceneQuery

# One transaction per batch: large enough to amortise the commit, small enough that
# another writer of the file (the catalog store) waits well under a second. Readers
# never wait (WAL).
BATCH_SIZE = 5000
# Candidate ids per statement when checking which of them a query matches (well
# under SQLite's limit on bound parameters).
MATCH_CHUNK = 500

# Sort orders: missing dates last both ways, ties by id (so every backend pages the
# same way). This form serves match-all from the indexes; the hits of a query are
# sorted by columns.SORTS. Relevance ties keep FTS5's order (by doc number).
_ORDER_SQL = {
    "modified": "d.modified, d.id",
    "-modified": "d.modified DESC, d.id DESC",
    "title": "d.title_key, d.id",
}

def sqlite_path(url: str) -> str:
    """The database path of a ``sqlite:///…`` URL (or a plain path); '' for in-memory."""
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:"):]
        path = rest[3:] if rest.startswith("///") else rest.lstrip("/")
    else:
        path = url
    path = path.split("?", 1)[0]
    return "" if path in ("", ":memory:") else path


class SqliteSearchBackend(BaseSearchBackend):
    """SearchBackend on SQLite FTS5 (see the module docstring)."""

    def __init__(self, url: str, *, batch_size: int = BATCH_SIZE) -> None:
        self.url = url
        self.batch_size = batch_size
        path = sqlite_path(url)
        self._memory = not path
        # An in-memory index is shared by this backend's connections through a named
        # shared-cache database, kept alive by one anchor connection.
        self._target = (
            f"file:search-{uuid.uuid4().hex}?mode=memory&cache=shared" if self._memory else path
        )
        self._anchor = self._connect() if self._memory else None
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()
        self._state = IndexState()

    # -- connections -----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self._memory:
            Path(self._target).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._target, uri=self._memory, timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        if not self._memory:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA mmap_size=268435456")
            # Checkpoint less often: a harvest rewrites the same index pages batch after batch.
            conn.execute("PRAGMA wal_autocheckpoint=8000")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-65536")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        if not self._ready:
            self.ensure_index()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- SearchBackend -------------------------------------------------------------------

    def ensure_index(self) -> None:
        """Create the ``search_*`` tables if missing (idempotent)."""
        with self._ready_lock:
            if self._ready:
                return
            conn = getattr(self._local, "conn", None) or self._connect()
            self._local.conn = conn
            with _write_transaction(conn):
                create_tables(conn)
            self._ready = True

    def index(self, documents: Iterable[dict[str, Any]]) -> IndexReport:
        """Add or replace documents (by id), in batches of one transaction each."""
        report = IndexReport()
        for batch in self._batches(documents, report):
            report.indexed += self._write(batch)
        return report

    def _batches(
        self, documents: Iterable[dict[str, Any]], report: IndexReport
    ) -> Iterator[list[DocumentRows]]:
        batch: dict[str, DocumentRows] = {}
        for document in documents:
            try:
                rows = document_rows(document)
            except ValueError as exc:
                doc_id = document.get("id") if isinstance(document, dict) else None
                report.failed.append((str(doc_id or "?"), str(exc)))
                continue
            batch.pop(rows.id, None)  # the last version of an id in a batch wins
            batch[rows.id] = rows
            if len(batch) >= self.batch_size:
                yield list(batch.values())
                batch = {}
        if batch:
            yield list(batch.values())

    def delete(self, ids: Iterable[str]) -> IndexReport:
        """Remove documents by id; unknown ids are ignored."""
        report = IndexReport()
        pending = list(dict.fromkeys(ids))
        conn = self._conn()
        for start in range(0, len(pending), self.batch_size):
            with _write_transaction(conn):
                report.deleted += remove_documents(conn, pending[start:start + self.batch_size])
                _bump_generation(conn)
        return report

    def _search(
        self,
        query: SceneQuery,
        *,
        limit: int,
        offset: int,
        facets: list[str],
        facet_size: int,
        sort: str,
        now: datetime | None,
    ) -> SearchResult:
        """One page of hits with the total and facet counts (see BaseSearchBackend)."""
        conn = self._conn()
        conn.execute("BEGIN")  # one snapshot for the count, the page and the facets
        try:
            view = self._state.view(conn)
            if query.is_match_all():
                total = view.total()
                page = self._page_all(conn, sort, limit, offset)
                counts = view.match_all(facets, facet_size)
            else:
                compiled = compile_query(query, view, now)
                total, page, counts = self._search_hits(
                    view, compiled, sort, limit, offset, facets, facet_size
                )
            hits = self._hits(conn, page)
        finally:
            conn.execute("COMMIT")
        return SearchResult(total=total, hits=hits, facets=counts)

    def _iter_ids(self, query: SceneQuery, *, now: datetime | None) -> Iterator[str]:
        """Every matching id, in id order, read from one snapshot."""
        if not self._ready:
            self.ensure_index()
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            sql, params = compile_query(query, self._state.view(conn), now).select_ids()
            cursor = conn.execute(sql, params)
            while rows := cursor.fetchmany(1000):
                for (doc_id,) in rows:
                    yield doc_id
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _match_ids(
        self,
        requests: Sequence[tuple[SceneQuery, Sequence[str]]],
        *,
        now: datetime | None,
    ) -> list[set[str]]:
        """For each (query, candidate ids): the candidates that match the query, all
        read from one snapshot (reverse matching evaluates a scene only there)."""
        if not self._ready:
            self.ensure_index()
        conn = self._connect()
        answers: list[set[str]] = []
        try:
            conn.execute("BEGIN")
            view = self._state.view(conn)
            for query, ids in requests:
                found: set[str] = set()
                compiled = compile_query(query, view, now)
                for start in range(0, len(ids), MATCH_CHUNK):
                    sql, params = compiled.select_among(list(ids[start:start + MATCH_CHUNK]))
                    found.update(doc_id for (doc_id,) in conn.execute(sql, params))
                answers.append(found)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return answers

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM search_doc").fetchone()[0])

    def clear(self) -> None:
        """Drop every document (the tables are recreated empty, value codes restart)."""
        conn = self._conn()
        with _write_transaction(conn):
            drop_tables(conn, keep_meta=True)
            create_tables(conn)
            new_epoch(conn)
            _bump_generation(conn)

    def optimize(self) -> None:
        """Merge the FTS5 segments and refresh planner statistics (after a full reindex)."""
        conn = self._conn()
        conn.execute("INSERT INTO search_fts (search_fts) VALUES ('optimize')")
        conn.execute("ANALYZE")

    # -- internals -------------------------------------------------------------------

    def _write(self, batch: list[DocumentRows]) -> int:
        conn = self._conn()
        try:
            with _write_transaction(conn):
                write_documents(conn, self._state.view(conn).values, batch)
                _bump_generation(conn)
        except BaseException:
            self._state.forget_values()  # it may hold codes of the rolled-back batch
            raise
        return len(batch)

    @staticmethod
    def _page_all(
        conn: sqlite3.Connection, sort: str, limit: int, offset: int
    ) -> list[tuple[int, float]]:
        """A page of every document, walking the modified or title index."""
        sort = "-modified" if sort == "relevance" else sort
        if sort != "modified":
            # NULL is the lowest value: undated documents come last in DESC order.
            return conn.execute(
                f"SELECT d.doc, 0.0 FROM search_doc d ORDER BY {_ORDER_SQL[sort]} LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        # Ascending, NULLs would come first: the dated part, then the undated one.
        page = conn.execute(
            "SELECT d.doc, 0.0 FROM search_doc d WHERE d.modified IS NOT NULL "
            f"ORDER BY {_ORDER_SQL['modified']} LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        if len(page) < limit:
            dated = conn.execute(
                "SELECT count(*) FROM search_doc WHERE modified IS NOT NULL"
            ).fetchone()[0]
            page += conn.execute(
                "SELECT d.doc, 0.0 FROM search_doc d WHERE d.modified IS NULL "
                "ORDER BY d.id LIMIT ? OFFSET ?",
                (limit - len(page), max(0, offset - dated)),
            ).fetchall()
        return page

    @staticmethod
    def _search_hits(
        view: View,
        compiled: CompiledQuery,
        sort: str,
        limit: int,
        offset: int,
        facets: list[str],
        facet_size: int,
    ) -> tuple[int, list[tuple[int, float]], FacetCounts]:
        """The hits' doc numbers (the text's in FTS5, then the filters checked on
        columns), hence the total and facets. The page by relevance comes from a
        second FTS5 statement that sorts with a LIMIT (scores are computed there only,
        for the hits only); any other order, from the hits' positions in that order."""
        matched = None
        if compiled.match is not None:
            matched = parse_ints(view.conn.execute(*compiled.select_text_docs()).fetchone()[0])
        docs = view.passing(compiled, matched)
        page: list[tuple[int, float]] = []
        if limit and len(docs) > offset:
            if sort == "relevance" and not compiled.ranked:
                sort = "-modified"
            if sort == "relevance":
                among = None
                if matched is not None and len(docs) < len(matched):
                    among = "search_hit"  # the filters dropped some: rank the hits only
                    view.conn.create_function(
                        among, 1, view.membership(docs).__getitem__, deterministic=True
                    )
                page = view.conn.execute(*compiled.select_page(limit, offset, among)).fetchall()
            else:
                first = view.first(docs, sort, limit, offset)
                page = [(doc, 0.0) for doc in first.tolist()]
        return len(docs), page, view.count_docs(docs, facets, facet_size)

    @staticmethod
    def _hits(conn: sqlite3.Connection, page: list[tuple[int, float]]) -> list[Hit]:
        if not page:
            return []
        marks = ", ".join("?" for _ in page)
        found = {
            doc: (doc_id, body)
            for doc, doc_id, body in conn.execute(
                f"SELECT d.doc, d.id, b.document FROM search_doc d "
                f"JOIN search_body b ON b.doc = d.doc "
                f"WHERE d.doc IN ({marks})",
                [doc for doc, _ in page],
            )
        }
        return [
            Hit(id=found[doc][0], score=score, document=json.loads(found[doc][1]))
            for doc, score in page
        ]


@contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error (the connection is in autocommit)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _bump_generation(conn: sqlite3.Connection) -> None:
    conn.execute(
        "UPDATE search_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
    )
