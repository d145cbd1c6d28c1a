"""The sources migration: names already harvested become manual sources, and old
harvest rows get a status, on SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from config.migrate import alembic_config


def _upgrade_with_history(url: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.begin() as connection:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0002")
        for source, location, state in (("hz", "/data/a.json", "done"), ("hz", "/data/b.json", "error"),
                                        ("tw", "http://portal/x.csv", "done")):
            connection.execute(text(
                "INSERT INTO harvest (source, location, format, state, started_at, seen, new, changed,"
                " unchanged, removed, quarantined) VALUES (:s, :l, 'auto', :st, '2026-11-30 10:00:00',"
                " 0, 0, 0, 0, 0, 0)"), {"s": source, "l": location, "st": state})
        command.upgrade(cfg, "head")
        sources = connection.execute(text(
            "SELECT name, location, schedule, paused FROM source ORDER BY name")).all()
        statuses = connection.execute(text("SELECT status FROM harvest ORDER BY id")).scalars().all()
        command.downgrade(cfg, "0002")  # and back: the downgrade works too
        command.upgrade(cfg, "head")
    engine.dispose()
    assert statuses == ["ok", "error", "ok"]
    return [tuple(row) for row in sources]


def test_harvested_names_become_sources_on_sqlite(tmp_path: Path) -> None:
    rows = _upgrade_with_history(f"sqlite:///{tmp_path / 'old.sqlite'}")
    assert rows == [("hz", "/data/b.json", "manual", False), ("tw", "http://portal/x.csv", "manual", False)]


@pytest.mark.postgres
def test_harvested_names_become_sources_on_postgres(postgres_url: str) -> None:
    rows = _upgrade_with_history(postgres_url)
    assert rows == [("hz", "/data/b.json", "manual", False), ("tw", "http://portal/x.csv", "manual", False)]
