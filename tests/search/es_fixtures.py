"""Fixtures for the Elasticsearch backend: a running server and throwaway indices.

The server is ``osmem-server`` (an in-memory OpenSearch-compatible server installed
by the test extra), started once per test process on a free port; it exits with the
process. Set ``SCENEWATCH_TEST_ES_URL`` (same form as ``SCENEWATCH_SEARCH_URL``) to
run the same tests against a real cluster instead: every test then works under its
own alias ``swtest-<random>`` and deletes its indices afterwards.

Test modules load this file as a plugin, so that one server serves them all::

    pytest_plugins = ("tests.search.es_fixtures",)
"""
from __future__ import annotations

import atexit
import os
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from search.backends.elasticsearch import ElasticsearchBackend
from search.backends.elasticsearch.client import make_client, parse_search_url

ENV_URL = "SCENEWATCH_TEST_ES_URL"
_lock = threading.Lock()
_server = None


def server_url() -> str:
    """The cluster under test: ``SCENEWATCH_TEST_ES_URL`` or a local osmem-server."""
    configured = os.environ.get(ENV_URL, "").strip()
    if configured:
        return configured
    global _server
    with _lock:
        if _server is None:
            from osmem_server import OsmemServer

            # Japanese analysis is not used by scenewatch; skipping it starts faster.
            _server = OsmemServer.start(japanese=False)
            atexit.register(_server.close)
        return _server.url


def new_backend(url: str, alias: str | None = None) -> ElasticsearchBackend:
    """A backend on a fresh alias of its own (nothing shared between tests)."""
    return ElasticsearchBackend(make_client(parse_search_url(url)), alias or f"swtest-{uuid.uuid4().hex[:10]}")


def drop_backend(backend: ElasticsearchBackend) -> None:
    """Delete every index the backend's alias ever had."""
    client = backend.client.options(ignore_status=404)
    for pattern in (f"{backend.alias}-v*", backend.alias):
        found = client.indices.get(index=pattern, allow_no_indices=True, ignore_unavailable=True)
        for name in getattr(found, "body", {}) or {}:
            client.indices.delete(index=name)
    backend.close()


@pytest.fixture(scope="session")
def es_url() -> str:
    return server_url()


@pytest.fixture
def es_backend(es_url: str) -> Iterator[ElasticsearchBackend]:
    """A backend on an alias of its own, index created."""
    backend = new_backend(es_url)
    backend.ensure_index()
    yield backend
    drop_backend(backend)


@pytest.fixture
def es_backends(es_url: str) -> Iterator[Callable[..., ElasticsearchBackend]]:
    """Makes more backends (``es_backends(alias)`` shares an alias, as another worker
    would); every index of every alias used is deleted afterwards."""
    made: list[ElasticsearchBackend] = []

    def make(alias: str | None = None) -> ElasticsearchBackend:
        made.append(new_backend(es_url, alias))
        return made[-1]

    yield make
    for backend in made:
        drop_backend(backend)
