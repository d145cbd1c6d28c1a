"""The embedded FTS5 backend loaded with the real CNPDS extract, and the reference
answers to compare it with: fixtures and helpers shared by its test modules."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from search.backends.sqlite import SqliteSearchBackend
from search.query import parse_query
from tests.parity.make_golden import matches

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "search" / "cnpds_sample.json"
NOW = datetime(2023, 6, 20, tzinfo=UTC)  # the crawl is from June 2023


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text("utf-8"))


@pytest.fixture
def backend(tmp_path: Path) -> SqliteSearchBackend:
    instance = SqliteSearchBackend(f"sqlite:///{tmp_path / 'search.sqlite'}")
    instance.ensure_index()
    return instance


@pytest.fixture
def loaded(backend: SqliteSearchBackend, documents: list[dict[str, Any]]) -> SqliteSearchBackend:
    report = backend.index(documents)
    assert (report.indexed, report.failed) == (len(documents), [])
    return backend


def expected_ids(
    query: dict[str, Any], documents: list[dict[str, Any]], now: datetime = NOW
) -> list[str]:
    parsed = parse_query(query)
    return sorted(d["id"] for d in documents if matches(parsed, d, now))


def search(backend: SqliteSearchBackend, query: dict[str, Any], **options: Any) -> Any:
    return backend.search(parse_query(query), now=NOW, **options)
