"""Fixtures for the REST API: a small real catalog, accounts with tokens, and the app
served over real HTTP on 127.0.0.1 (a werkzeug server thread)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from config.extensions import db

PASSWORD = "correct horse battery"


def harvest_sample(folder: Path, count: int = 80, source: str = "hz") -> list[dict[str, Any]]:
    """Register source ``source`` at a file holding the first ``count`` records of the
    bundled Hangzhou export, and harvest it with the real pipeline."""
    from search.source_runs import harvest_source
    from tests.helpers import sample_records, write_snapshot

    records = sample_records()[:count]
    outcome = harvest_source(source, location=write_snapshot(folder / "snapshot.json", records),
                             fmt="portal-json")
    assert outcome.status == "ok", outcome.record
    return records


def new_account(email: str, admin: bool = False) -> int:
    """Register ``email`` and return its user id."""
    from subscriptions.accounts import register_user

    with db.session() as session:
        user = register_user(session, email, PASSWORD, "en")
        user.is_admin = admin
        return user.id


def issue_token(user_id: int, scope: str = "write", **kwargs: Any) -> str:
    """A fresh token of ``scope`` for ``user_id``."""
    from subscriptions.api_tokens import create_token
    from subscriptions.models import User

    with db.session() as session:
        user = session.get(User, user_id)
        return create_token(session, user, scope=scope, **kwargs).secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def catalog(app: Flask, tmp_path: Path) -> list[dict[str, Any]]:
    return harvest_sample(tmp_path)


@pytest.fixture
def alice(app: Flask) -> int:
    return new_account("alice@example.org")


@pytest.fixture
def bob(app: Flask) -> int:
    return new_account("bob@example.org")


@pytest.fixture
def alice_token(alice: int) -> str:
    return issue_token(alice, "write")


@pytest.fixture
def api(client: Any, alice_token: str) -> Callable[..., Any]:
    """``api(method, path, **kwargs)``: a request to the test client as Alice's write token."""

    def call(method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {**bearer(token or alice_token), **kwargs.pop("headers", {})}
        return client.open(path, method=method, headers=headers, **kwargs)

    return call


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1 (a free port); yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
