"""The PostgreSQL search backend: the index in the catalog's own database (see :mod:`.backend`)."""
from search.backends.postgres.backend import PostgresSearchBackend

__all__ = ["PostgresSearchBackend"]
