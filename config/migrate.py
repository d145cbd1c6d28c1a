"""Alembic migrations, run programmatically (``scenewatch init`` and the tests)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from config.extensions import db

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at our migrations and the bound database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", (url or db.url).replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The head revision(s) of the shipped migrations (read once per process)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def _at_head(connection: Connection) -> bool:
    return frozenset(MigrationContext.configure(connection).get_current_heads()) == head_revisions()


def upgrade(revision: str = "head") -> None:
    """Bring the relational store up to ``revision`` and make sure the search index exists."""
    from config.extensions import search

    if db.engine is None:
        raise RuntimeError("database not initialised")
    cfg = alembic_config()
    with db.engine.connect() as connection:
        # Every command and app start calls this: an up-to-date store costs one query.
        up_to_date = revision == "head" and _at_head(connection)
        connection.rollback()
        if not up_to_date:
            _migrate(connection, cfg, revision)
    backend = search.get()
    backend.ensure_index()
    if backend.count() == 0 and _live_datasets() > 0:
        # A new or rebuilt index (a new install of the search backend, or an index
        # schema change) is refilled from the catalog: a harvest only indexes what changed.
        from search.reindex import reindex_all

        reindex_all()


def _check_foreign_keys(connection: Connection) -> None:
    """Refuse (roll back) a migration that left a row pointing at nothing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left {len(broken)} broken references, e.g. {tuple(broken[0])}")


def _migrate(connection: Connection, cfg: Config, revision: str) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite rebuilds a table to alter it; with foreign keys on, dropping the old
        # copy would cascade-delete every row that refers to it. The pragma only works
        # outside a transaction, so it is set before the migrations begin.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
            if sqlite:
                _check_foreign_keys(connection)
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def _live_datasets() -> int:
    from sqlalchemy import func, select

    from search.models import Dataset

    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))) or 0)
