"""Unbound extensions: created here, bound to settings by :func:`config.app.init_services`
(the app factory, a worker, a command or a plain script).

Every package imports ``db``, ``search`` and ``settings`` from here, never builds its
own; domain code reads the settings it was not handed from ``settings.get()``, never
from a Flask app.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import JSON, DateTime, Integer, MetaData, Table, create_engine, event
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from config.settings import Settings
    from search.backends.base import SearchBackend

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids are never reused: an old signed link or session naming a deleted row must not
# reach the row that would otherwise take its id. PostgreSQL sequences never go back;
# SQLite needs AUTOINCREMENT (without it a freed highest rowid is handed out again).
NEVER_REUSE_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


def _has_integer_id(table: Table) -> bool:
    column = table.autoincrement_column
    return column is not None and isinstance(column.type, Integer)


@event.listens_for(Table, "before_create")
def _never_reuse_ids(table: Table, connection: Any, **_kw: Any) -> None:
    """Every table with an integer id gets AUTOINCREMENT on SQLite when it is created,
    including tables a migration rebuilds (SQLite reflection forgets the flag)."""
    if connection.dialect.name == "sqlite" and _has_integer_id(table):
        table.dialect_kwargs["sqlite_autoincrement"] = True


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:

        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}

    if TYPE_CHECKING:
        # Every model maps one Table (DeclarativeBase only promises a FromClause).
        __table__: ClassVar[Table]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web form read while a harvest writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoint every 8,000 pages (as the FTS5 index's connection to the same file does),
    # not every 1,000: a harvest's batches rewrite the same pages, and each checkpoint
    # copies and syncs them again. Durability is unchanged.
    cursor.execute("PRAGMA wal_autocheckpoint=8000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and foreign keys, PostgreSQL a pool check."""
    if url.startswith("sqlite"):
        from pathlib import Path

        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, future=True)


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched. ``Session.execute`` is annotated as
    returning any Result; for these statements it is a CursorResult, which counts them."""
    return cast("CursorResult[Any]", result).rowcount


class Database:
    """The relational store: one engine and one session factory per process."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.Session: sessionmaker[Session] | None = None
        self.url = ""

    def init(self, url: str) -> None:
        if self.engine is not None and self.url == url:
            return
        if self.engine is not None:
            self.engine.dispose()
        self.url = url
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        if self.Session is None:
            raise RuntimeError("database not initialised: call create_app() first")
        session = self.Session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


class SearchHolder:
    """Holds the configured search backend (embedded FTS5 or Elasticsearch)."""

    def __init__(self) -> None:
        self.backend: SearchBackend | None = None

    def get(self) -> SearchBackend:
        if self.backend is None:
            raise RuntimeError("search backend not initialised: call create_app() first")
        return self.backend


class SettingsHolder:
    """The settings in force: those of the Flask app whose context is active (a web
    request, a task on a worker), else those bound by ``init_services`` (a command or a
    plain script with no Flask app)."""

    def __init__(self) -> None:
        self.value: Settings | None = None

    def peek(self) -> Settings | None:
        """The settings in force, or None when nothing is bound."""
        from flask import current_app, has_app_context

        if has_app_context():
            configured = current_app.config.get("SCENEWATCH")
            if configured is not None:
                return configured  # type: ignore[no-any-return]
        return self.value

    def get(self) -> Settings:
        found = self.peek()
        if found is None:
            raise RuntimeError("settings not bound: call config.app.init_services(settings) first")
        return found

    def resolve(self, given: Settings | None) -> Settings:
        """``given`` when a caller passed settings, else the settings in force."""
        return given if given is not None else self.get()


db = Database()
search = SearchHolder()
settings = SettingsHolder()
# CSRF protection of the web form; blueprints exempt themselves through
# subscriptions.views.csrf.exempt_blueprint, nowhere else.
csrf = CSRFProtect()
# Rate limits (login, mail to third parties, webhook tests); nothing is limited by
# default. Storage comes from settings.ratelimit_storage_uri (see subscriptions.views.limits).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
