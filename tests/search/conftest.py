"""Catalog-side fixtures: a fresh store, with or without the embedded search index."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings

HARVEST_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "harvest"


@pytest.fixture
def fixtures_dir() -> Path:
    """Small real catalog extracts (see NOTICE for their sources and licences)."""
    return HARVEST_FIXTURES


def fixture_records(name: str) -> list[dict[str, Any]]:
    return json.loads((HARVEST_FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def store(settings: Settings) -> Iterator[Any]:
    """A fresh migrated catalog store and no search backend, for tests of the store alone."""
    from config.extensions import db, search
    from tests.template_db import install_store

    previous = search.backend
    install_store(settings.database_url)
    db.init(settings.database_url)
    search.backend = None
    try:
        yield db
    finally:
        search.backend = previous


@pytest.fixture
def indexed_store(settings: Settings) -> Iterator[Any]:
    """A fresh installation as ``scenewatch init`` makes it: migrated store and the
    configured search backend (the embedded FTS5 index). Yields the backend."""
    from config.app import init_services
    from config.extensions import search
    from config.migrate import upgrade
    from tests.template_db import install_store

    previous = search.backend
    install_store(settings.database_url)
    init_services(settings)
    upgrade()
    try:
        yield search.get()
    finally:
        search.backend = previous
