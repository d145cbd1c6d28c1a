"""Fast bulk writes for the embedded SQLite store.

SQLAlchemy's executemany path builds and processes every parameter set in Python;
on a catalog of 100 000 datasets that costs more than SQLite itself. Here the
statement is built once and rows go straight to the DBAPI's ``executemany`` — but
every value still passes through SQLAlchemy's own bind processor for its column
type (JSON serialisation, the UTC datetime decorator), so what lands in the table is
exactly what the ORM would have written. Processors are memoised where values
repeat: a harvest stamps every row with the same instant, and most datasets share a
handful of format lists, theme lists and quality blocks.

Used on SQLite only; other databases take the ordinary SQLAlchemy path.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, DateTime, Table
from sqlalchemy.engine import Connection

Processor = Callable[[Any], Any]
MEMO_LIMIT = 100_000
_SCALARS = frozenset({str, int, float, bool, type(None)})
_DICT = object()  # marks a dict key, so [] and {} never share one


def _json_key(value: Any) -> Any:
    """A hashable stand-in for a small JSON value, or None when not worth memoising.

    Lists of strings key by their items; small flat dicts by items *and* value types,
    since 1, 1.0 and True are equal in Python but not in JSON."""
    cls = value.__class__
    if cls is list:
        for item in value:
            if item.__class__ is not str:
                return None
        return tuple(value)
    if cls is dict and len(value) <= 8:
        key: list[Any] = [_DICT]
        for name, item in value.items():
            if item.__class__ not in _SCALARS:
                return None
            key.append((name, item.__class__, item))
        return tuple(key)
    return None


def _memo_json(process: Processor) -> Processor:
    memo: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        key = _json_key(value)
        if key is None:
            return process(value)
        try:
            return memo[key]
        except KeyError:
            if len(memo) > MEMO_LIMIT:
                memo.clear()
            memo[key] = result = process(value)
            return result

    return cached


def _processor(connection: Connection, table: Table, name: str) -> Processor | None:
    column = table.c[name]
    dialect = connection.dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    impl = getattr(column.type, "impl", column.type)
    if isinstance(column.type, JSON) or isinstance(impl, JSON):
        return _memo_json(process)
    if isinstance(column.type, DateTime) or isinstance(impl, DateTime):
        memo: dict[Any, Any] = {}

        def cached(value: Any, _process: Processor = process) -> Any:
            try:
                return memo[value]
            except KeyError:
                memo[value] = result = _process(value)
                return result

        return cached
    return process


class BulkStatement:
    """One INSERT or UPDATE … WHERE <key> = ? over fixed columns, executed many times."""

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str],
                 where: str | None = None, preserialised: Sequence[str] = ()) -> None:
        """``preserialised`` names JSON columns whose values the caller already gives as
        JSON text (the content a version was hashed from), so they are not encoded twice."""
        quote = connection.dialect.identifier_preparer.quote
        self.connection = connection
        self.columns = list(columns)
        self.defaults: dict[str, Any] = {}
        if where is None:
            # Columns the rows leave out get their Python-side default, as the ORM does.
            for column in table.columns:
                default = column.default
                if column.key in self.columns or default is None or column.primary_key:
                    continue
                if default.is_scalar or default.is_callable:
                    self.defaults[column.key] = default
            self.columns += list(self.defaults)
            names = ", ".join(quote(c) for c in self.columns)
            marks = ", ".join("?" for _ in self.columns)
            self.sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"
            order = self.columns
        else:
            assignments = ", ".join(f"{quote(c)} = ?" for c in self.columns)
            self.sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(where)} = ?"
            order = self.columns + [where]
        self.order = order
        self.processors = [None if name in preserialised else _processor(connection, table, name)
                           for name in order]

    def execute(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.defaults:
            extra = {name: default.arg if default.is_scalar else default.arg(None)
                     for name, default in self.defaults.items()}
            rows = [{**extra, **row} for row in rows]
        get = itemgetter(*self.order)
        processed = [(index, p) for index, p in enumerate(self.processors) if p is not None]
        params = []
        for row in rows:
            values = list(get(row)) if len(self.order) > 1 else [get(row)]
            for index, process in processed:
                values[index] = process(values[index])
            params.append(tuple(values))
        self.connection.exec_driver_sql(self.sql, params)  # type: ignore[arg-type]


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"
