"""Builds the configured search backend: Elasticsearch when SCENEWATCH_SEARCH_URL is
set, else the embedded SQLite FTS5 index."""
from __future__ import annotations

from config.settings import Settings
from search.backend import SearchBackend


def make_backend(settings: Settings) -> SearchBackend:
    """The backend named by ``settings`` (not yet connected; call ensure_index())."""
    if settings.search_url:
        from search.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend.from_settings(settings)
    from search.sqlite import SqliteSearchBackend

    return SqliteSearchBackend(settings.search_database_url)
