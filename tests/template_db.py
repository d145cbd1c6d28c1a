"""One migrated store per test run, copied for every test that needs a fresh one.

Building a store means running every Alembic migration and creating the search
index tables; doing it once and copying the file gives each test the same fresh,
migrated SQLite store (and empty FTS5 index) in a fraction of the time. The schema
comes from the migrations only, as in production: no test creates tables from the
models.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_template: Path | None = None


def migrate(url: str) -> None:
    """Run every migration on the database at ``url`` (SQLite or PostgreSQL), without
    touching the process's bound ``db``."""
    from alembic import command

    from config.extensions import make_engine
    from config.migrate import alembic_config

    engine = make_engine(url)
    try:
        cfg = alembic_config(url)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()


def _build(path: Path) -> None:
    from search.backends.sqlite import SqliteSearchBackend

    url = f"sqlite:///{path}"
    migrate(url)
    index = SqliteSearchBackend(url)
    index.ensure_index()
    index.close()
    # The last connection to close checkpoints the WAL and deletes it: the file alone
    # is the whole database (and stays in WAL mode, as every store is opened).
    for suffix in ("-wal", "-shm"):
        leftover = path.with_name(path.name + suffix)
        if leftover.exists() and leftover.stat().st_size:
            raise RuntimeError(f"{leftover} was left behind: the template would be incomplete")


def template_store() -> Path:
    """The migrated template (built on first use, removed when the process exits)."""
    global _template
    with _lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="scenewatch-template-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "scenewatch.sqlite"
            _build(path)
            _template = path
        return _template


def sqlite_file(url: str) -> Path:
    """The file of a ``sqlite:///…`` URL."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not a SQLite file URL: {url}")
    return Path(url[len("sqlite:///"):].split("?", 1)[0])


def install_store(url: str) -> None:
    """Put a fresh copy of the migrated template at the SQLite file of ``url``."""
    target = sqlite_file(url)
    if target.exists():
        raise FileExistsError(f"{target} already exists; a fresh store goes to a new path")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_store(), target)
