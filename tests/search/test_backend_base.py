"""What the base class guarantees every backend (here the embedded one; the
PostgreSQL and Elasticsearch suites run the same calls on theirs)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from search.backends.base import BaseSearchBackend
from search.backends.sqlite import SqliteSearchBackend
from search.query import parse_query


@pytest.fixture
def backend() -> Iterator[SqliteSearchBackend]:
    instance = SqliteSearchBackend("sqlite://")
    instance.index([{"id": f"t:{n}", "title": "公共交通", "formats": ["CSV"]} for n in range(3)])
    yield instance
    instance.close()


def test_absurd_pages_are_empty_not_errors(backend: SqliteSearchBackend) -> None:
    huge = backend.search(parse_query({"text": "交通"}), limit=10**30, offset=10**30, facet_size=10**30)
    assert huge.total == 3 and huge.hits == [] and huge.facets["formats"] == [("csv", 3)]
    negative = backend.search(parse_query({}), limit=-5, offset=-5, facet_size=-1)
    assert negative.total == 3 and negative.hits == [] and negative.facets["formats"] == []


def test_rebuild_replaces_everything(backend: SqliteSearchBackend) -> None:
    report = backend.rebuild([{"id": "new", "title": "医疗"}, {"title": "no id"}])
    assert (report.indexed, [r for _, r in report.failed]) == (1, ["document has no id"])
    assert list(backend.iter_ids(parse_query({}))) == ["new"]


def test_every_backend_is_a_base_backend() -> None:
    from search.backends.elasticsearch import ElasticsearchBackend
    from search.backends.postgres import PostgresSearchBackend

    assert all(issubclass(cls, BaseSearchBackend)
               for cls in (SqliteSearchBackend, ElasticsearchBackend, PostgresSearchBackend))
