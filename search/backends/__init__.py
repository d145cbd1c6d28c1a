"""Search backends behind one interface (:mod:`.base`): the embedded SQLite FTS5 index
(:mod:`.sqlite`), PostgreSQL (:mod:`.postgres`) and Elasticsearch (:mod:`.elasticsearch`).

:func:`make_backend` builds the configured one (``Settings.search_backend``):
Elasticsearch when SCENEWATCH_SEARCH_URL is set, else the relational store's own —
PostgreSQL for a PostgreSQL store, the embedded SQLite FTS5 index for SQLite."""
from __future__ import annotations

from config.settings import Settings
from search.backends.base import (
    FACET_FIELDS,
    SORTS,
    BaseSearchBackend,
    Hit,
    IndexReport,
    SearchBackend,
    SearchResult,
)

__all__ = [
    "FACET_FIELDS", "SORTS", "BaseSearchBackend", "Hit", "IndexReport", "SearchBackend",
    "SearchResult", "make_backend",
]


def make_backend(settings: Settings) -> SearchBackend:
    """The backend named by ``settings`` (not yet connected; call ensure_index())."""
    name = settings.search_backend
    if name == "elasticsearch":
        from search.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend.from_settings(settings)
    if name == "postgres":
        from search.backends.postgres import PostgresSearchBackend

        return PostgresSearchBackend(settings.database_url)
    from search.backends.sqlite import SqliteSearchBackend

    return SqliteSearchBackend(settings.search_database_url)
