"""The embedded search backend: SQLite FTS5 (see :mod:`.backend`)."""
from search.backends.sqlite.backend import SqliteSearchBackend, sqlite_path

__all__ = ["SqliteSearchBackend", "sqlite_path"]
