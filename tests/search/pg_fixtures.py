"""PostgreSQL search backends for tests: each in a schema of its own, dropped afterwards,
so module-scoped indexes do not meet the per-test emptying of the public schema."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from search.backends.postgres import PostgresSearchBackend


def postgres_url() -> str:
    url = os.environ.get("SCENEWATCH_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    return url


def new_backend() -> PostgresSearchBackend:
    """A backend over a fresh schema ``swtest_<random>``, its index created."""
    url = postgres_url()
    schema = f"swtest_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    backend = PostgresSearchBackend(url, schema=schema)
    backend.ensure_index()
    return backend


def drop_backend(backend: PostgresSearchBackend) -> None:
    """Close ``backend`` and drop its schema."""
    backend.close()
    engine = create_engine(backend.url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {backend.schema} CASCADE"))
    engine.dispose()
