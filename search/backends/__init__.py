"""Search backends behind one interface (:mod:`.base`): the embedded SQLite FTS5 index
(:mod:`.sqlite`) and Elasticsearch (:mod:`.elasticsearch`).

:func:`make_backend` builds the configured one: Elasticsearch when
SCENEWATCH_SEARCH_URL is set, else the embedded SQLite FTS5 index."""
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
    if settings.search_url:
        from search.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend.from_settings(settings)
    from search.backends.sqlite import SqliteSearchBackend

    return SqliteSearchBackend(settings.search_database_url)
