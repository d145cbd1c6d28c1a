"""The search backend of a PostgreSQL installation: the index lives in the same
database as the catalog, so every machine (web, workers, a harvest run elsewhere)
reads and writes one index.

Table and query shapes are in :mod:`.schema` and :mod:`.query`. A search runs in one
read-only REPEATABLE READ transaction: one statement finds the hits once
(a materialised CTE) and returns the total, every facet's top values and the page's
ids; a second reads the page's stored documents. Writes are upserts in batches of
one transaction each; :meth:`PostgresSearchBackend.rebuild` replaces every row in a
single transaction, so searches see the old index until the new one is complete.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from tqdm import tqdm

from search.backends.base import BaseSearchBackend, Hit, IndexReport, SearchResult
from search.backends.postgres.query import ORDER_BY, CompiledQuery, compile_query
from search.backends.postgres.schema import (
    COLUMNS,
    DDL,
    DROP,
    META,
    SCHEMA_VERSION,
    TABLE,
    document_row,
)
from search.query import SceneQuery

BATCH_SIZE = 1000
_PAGE = " page"  # the part name of page rows (no facet field has a space)
# Serialises index creation between processes starting at once.
_LOCK_KEY = 0x5CE7E5EA
_UPSERT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('%s' for _ in COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in COLUMNS if name != "id")
)


class PostgresSearchBackend(BaseSearchBackend):
    """SearchBackend on PostgreSQL (see the module docstring)."""

    def __init__(self, url: str, *, schema: str = "", batch_size: int = BATCH_SIZE) -> None:
        """``url``: the catalog store's SQLAlchemy URL; ``schema``: a PostgreSQL schema to
        keep the index in (default: the connection's search path)."""
        self.url = url
        self.schema = schema
        self.batch_size = batch_size
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._ready = False
        self._landing = _LandingCache()

    # -- connections -----------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = create_engine(self.url, pool_pre_ping=True)
                if self.schema:
                    event.listen(self._engine, "connect", self._set_search_path)
            return self._engine

    def _set_search_path(self, dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT set_config('search_path', %s, false)", (self.schema,))
        dbapi_connection.commit()

    @contextmanager
    def _transaction(self, *, read_only: bool = False) -> Iterator[Connection]:
        if not self._ready:
            self.ensure_index()
        with self.engine.connect() as conn:
            if read_only:
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                if read_only:
                    # JIT-compiling these statements costs more (~0.2 s) than it ever saves.
                    conn.exec_driver_sql("SET LOCAL jit = off")
                yield conn

    def close(self) -> None:
        """Close the pooled connections of this process."""
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- index management ------------------------------------------------------------

    def ensure_index(self) -> None:
        """Create the table and its indexes if missing; a table built by another schema
        version is replaced (start-up then refills it from the catalog)."""
        with self.engine.begin() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            exists = conn.exec_driver_sql("SELECT to_regclass(%s)", (META,)).scalar()
            if exists is not None:
                version = conn.exec_driver_sql(
                    f"SELECT value FROM {META} WHERE key = 'schema'").scalar()
                if version != SCHEMA_VERSION:
                    for statement in DROP:
                        conn.exec_driver_sql(statement)
            for statement in DDL:
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql(
                f"INSERT INTO {META} (key, value) VALUES ('schema', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (SCHEMA_VERSION,))
            conn.exec_driver_sql(
                f"INSERT INTO {META} (key, value) VALUES ('generation', (floor(random() * 1e15))::bigint::text) "
                "ON CONFLICT (key) DO NOTHING")  # random start: a recreated table never repeats one
        self._ready = True

    # -- writes ----------------------------------------------------------------------

    def index(self, documents: Iterable[dict[str, Any]]) -> IndexReport:
        """Add or replace documents (by id), in batches of one transaction each."""
        report = IndexReport()
        for batch in self._batches(documents, report):
            with self._transaction() as conn:
                conn.exec_driver_sql(_UPSERT, batch)
                _bump_generation(conn)
            report.indexed += len(batch)
        return report

    def _batches(self, documents: Iterable[dict[str, Any]],
                 report: IndexReport) -> Iterator[list[tuple[Any, ...]]]:
        batch: dict[str, tuple[Any, ...]] = {}
        for document in documents:
            try:
                row = document_row(document)
            except ValueError as exc:
                doc_id = document.get("id") if isinstance(document, dict) else None
                report.failed.append((str(doc_id or "?"), str(exc)))
                continue
            batch.pop(row[0], None)  # the last version of an id in a batch wins
            batch[row[0]] = row
            if len(batch) >= self.batch_size:
                yield list(batch.values())
                batch = {}
        if batch:
            yield list(batch.values())

    def delete(self, ids: Iterable[str]) -> IndexReport:
        """Remove documents by id; unknown ids are ignored."""
        report = IndexReport()
        pending = [i for i in dict.fromkeys(ids) if isinstance(i, str) and "\x00" not in i]
        for start in range(0, len(pending), self.batch_size):
            with self._transaction() as conn:
                result = conn.exec_driver_sql(
                    f"DELETE FROM {TABLE} WHERE id = ANY(%s::text[])",
                    (pending[start:start + self.batch_size],))
                report.deleted += result.rowcount
                _bump_generation(conn)
        return report

    def clear(self) -> None:
        """Drop every document."""
        with self._transaction() as conn:
            conn.exec_driver_sql(f"DELETE FROM {TABLE}")
            _bump_generation(conn)

    def rebuild(self, documents: Iterable[dict[str, Any]], *, progress: bool = False,
                total: int | None = None) -> IndexReport:
        """Replace every document in one transaction (searches see the old index until
        it commits), then refresh the planner's statistics."""
        report = IndexReport()
        bar = tqdm(total=total, unit="ds", desc="reindex", disable=not progress)
        try:
            with self._transaction() as conn:
                conn.exec_driver_sql(f"DELETE FROM {TABLE}")
                for batch in self._batches(documents, report):
                    conn.exec_driver_sql(_UPSERT, batch)
                    report.indexed += len(batch)
                    bar.update(len(batch))
                _bump_generation(conn)
        finally:
            bar.close()
        self.analyze()
        return report

    def analyze(self) -> None:
        """Refresh the planner's statistics (after a bulk load)."""
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"ANALYZE {TABLE}")

    # -- reads -----------------------------------------------------------------------

    def count(self) -> int:
        with self._transaction(read_only=True) as conn:
            return int(conn.exec_driver_sql(f"SELECT count(*) FROM {TABLE}").scalar() or 0)

    def _search(self, query: SceneQuery, *, limit: int, offset: int, facets: list[str],
                facet_size: int, sort: str, now: datetime | None) -> SearchResult:
        """Total, facets and one page (see the module docstring)."""
        compiled = compile_query(query, now)
        if sort == "relevance" and not compiled.ranked:
            sort = "-modified"
        key = (tuple(facets), facet_size)
        total = 0
        counts: dict[str, list[tuple[str, int]]] = {name: [] for name in facets}
        ranked: list[tuple[int, str, float]] = []
        with self._transaction(read_only=True) as conn:
            cached, generation = None, None
            if query.is_match_all():
                generation = conn.exec_driver_sql(
                    f"SELECT value FROM {META} WHERE key = 'generation'").scalar()
                cached = self._landing.get(generation, key)
            if cached is not None:
                # The landing page: total and facets as counted for this generation.
                total, counts = cached[0], {name: list(values) for name, values in cached[1].items()}
                sql, params = _page_sql(sort, limit, offset)
            else:
                sql, params = _search_sql(compiled, sort, limit, offset, facets, facet_size)
            for part, key_, n, score in conn.exec_driver_sql(sql, tuple(params)):
                if part == "":
                    total = int(n)
                elif part == _PAGE:
                    # The page-only statement is one ORDER BY: its rows come in order.
                    ranked.append((int(n) if cached is None else len(ranked), key_, float(score)))
                else:
                    counts[part].append((key_, int(n)))
            page = [(doc_id, score) for _, doc_id, score in sorted(ranked)]
            documents: dict[str, str] = dict(conn.exec_driver_sql(
                f"SELECT id, document FROM {TABLE} WHERE id = ANY(%s::text[])",
                ([doc_id for doc_id, _ in page],)).all()) if page else {}
        for values in counts.values():
            values.sort(key=lambda item: (-item[1], item[0]))  # code point order, as "C"
        if query.is_match_all() and cached is None:
            self._landing.put(generation, key, total, counts)
        hits = [Hit(id=doc_id, score=score, document=json.loads(documents[doc_id]))
                for doc_id, score in page if doc_id in documents]
        return SearchResult(total=total, hits=hits, facets=counts)

    def _iter_ids(self, query: SceneQuery, *, now: datetime | None) -> Iterator[str]:
        """Every matching id in id order, streamed from one snapshot."""
        where, params = compile_query(query, now).condition()
        with self._transaction(read_only=True) as conn:
            rows = conn.execution_options(stream_results=True, max_row_buffer=1000).exec_driver_sql(
                f"SELECT d.id FROM {TABLE} d WHERE {where} ORDER BY d.id", tuple(params))
            for (doc_id,) in rows:
                yield doc_id

    def _match_ids(self, requests: Sequence[tuple[SceneQuery, Sequence[str]]], *,
                   now: datetime | None) -> list[set[str]]:
        """For each (query, candidate ids): the candidates that match, read from one
        snapshot; the id list drives each statement (reverse matching)."""
        answers: list[set[str]] = []
        with self._transaction(read_only=True) as conn:
            for query, ids in requests:
                found: set[str] = set()
                if ids:
                    where, params = compile_query(query, now).condition()
                    found.update(doc_id for (doc_id,) in conn.exec_driver_sql(
                        f"SELECT d.id FROM {TABLE} d WHERE d.id = ANY(%s) AND ({where})",
                        (list(ids), *params)))
                answers.append(found)
        return answers


def _bump_generation(conn: Connection) -> None:
    """Mark the index as changed (in the writer's transaction): cached landing counts
    of older generations no longer hold."""
    conn.exec_driver_sql(
        f"UPDATE {META} SET value = (value::bigint + 1)::text WHERE key = 'generation'")


def _page_sql(sort: str, limit: int, offset: int) -> tuple[str, list[Any]]:
    """One page of every document, rows shaped as :func:`_search_sql`'s page rows."""
    order = ORDER_BY[sort].replace("score DESC, ", "")
    return (f"SELECT %s::text, id, 0::bigint, 0.0::float8 FROM {TABLE} ORDER BY {order} LIMIT %s OFFSET %s",
            [_PAGE, limit, offset])


class _LandingCache:
    """Total and facet counts of the match-all query (the search page's landing view),
    per index generation and facet request; thread-safe, one per backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._entries: dict[tuple[tuple[str, ...], int], tuple[int, dict[str, list[tuple[str, int]]]]] = {}

    def get(self, generation: Any, key: tuple[tuple[str, ...], int]
            ) -> tuple[int, dict[str, list[tuple[str, int]]]] | None:
        with self._lock:
            return self._entries.get(key) if generation == self._generation else None

    def put(self, generation: Any, key: tuple[tuple[str, ...], int], total: int,
            counts: dict[str, list[tuple[str, int]]]) -> None:
        with self._lock:
            if generation != self._generation:
                self._generation, self._entries = generation, {}
            self._entries[key] = (total, {name: list(values) for name, values in counts.items()})


def _search_sql(compiled: CompiledQuery, sort: str, limit: int, offset: int,
                facets: list[str], facet_size: int) -> tuple[str, list[Any]]:
    """One statement returning rows (part, key, n, score): part '' holds the total,
    a facet name one of its values, :data:`_PAGE` one hit of the page and its position."""
    where, where_params = compiled.condition()
    columns = ["d.id", "d.modified", "d.title_key", f"{compiled.score} AS score",
               *(f"d.{name}" for name in facets)]
    params: list[Any] = [*compiled.score_params, *where_params]
    parts = ["SELECT ''::text, NULL::text, count(*)::bigint, NULL::float8 FROM hits"]
    for name in facets:
        parts.append(
            f"(SELECT %s::text, v, count(*)::bigint, NULL::float8 FROM hits, unnest(hits.{name}) v "
            f'GROUP BY v ORDER BY count(*) DESC, v COLLATE "C" LIMIT %s)')
        params.extend([name, max(0, facet_size)])
    # Rows of a UNION ALL come in no promised order: the page carries its positions.
    parts.append(
        f"(SELECT %s::text, id, row_number() OVER (ORDER BY {ORDER_BY[sort]}), score FROM hits "
        f"ORDER BY {ORDER_BY[sort]} LIMIT %s OFFSET %s)")
    params.extend([_PAGE, limit, offset])
    sql = (f"WITH hits AS MATERIALIZED (SELECT {', '.join(columns)} FROM {TABLE} d WHERE {where}) "
           + " UNION ALL ".join(parts))
    return sql, params
