"""The two-user authorization matrix: every route of the app (read from its URL map),
as the other user and logged out, in development and production, on SQLite and
PostgreSQL. Zero reads of the owner's data (markers in any response), zero writes
(the owner's state is compared before and after every request), zero 500s."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config.settings import Settings
from tests.security.conftest import build_app
from tests.security.inventory import (
    BY_SECRET,
    MARKERS,
    PUBLIC,
    World,
    arguments,
    build,
    form_for,
    make_world,
    routes,
    snapshot,
)


def _leaks(body: bytes) -> list[str]:
    return [m for m in MARKERS if m.encode() in body]


def _attack(app: Flask, world: World) -> list[str]:
    """Every route as bob and as nobody; returns the failures found."""
    failures: list[str] = []
    before = snapshot(world)
    for rule, method in routes(app):
        for who in ("bob", "anonymous"):
            client: FlaskClient = world.bob if who == "bob" else app.test_client()
            url = build(rule, world, forged=rule.endpoint in BY_SECRET)
            if method == "POST":
                response = client.post(url, data=form_for(client))
            else:
                response = client.get(url)
            body = response.get_data()
            where = f"{who} {method} {url} -> {response.status_code}"
            if response.status_code >= 500:
                failures.append(f"server error: {where}")
            if leaked := _leaks(body) + _leaks(response.headers.get("Location", "").encode()):
                failures.append(f"read {leaked}: {where}")
            after = snapshot(world)
            if after != before:
                failures.append(f"write: {where}\n  before {before}\n  after  {after}")
                before = after
            scoped = rule.endpoint not in PUBLIC and rule.endpoint not in BY_SECRET
            if scoped and 200 <= response.status_code < 300 and (arguments(rule) or who == "anonymous"):
                failures.append(f"answered: {where}")
    return failures


def _owner_sees_everything(world: World) -> None:
    """The markers are real: alice herself reads her scene, run and mail."""
    alice = world.alice
    for url in (f"/scenes/{world.ids['scene_id']}",
                f"/scenes/{world.ids['scene_id']}/runs/{world.ids['run_id']}",
                f"/outbox/{world.tokens['key']}"):
        response = alice.get(url)
        assert response.status_code == 200 and _leaks(response.get_data()), url
    assert _leaks(alice.get("/outbox").get_data())


def _check(settings: Settings, tmp_path: Path, production: bool) -> None:
    app = build_app(settings, production=production)
    with app.app_context():
        world = make_world(app, tmp_path)
        _owner_sees_everything(world)
        failures = _attack(app, world)
        assert not failures, "\n".join(failures)
        # Every route was attacked: the list is the URL map, not a hand-kept copy.
        attacked = {rule.endpoint for rule, _ in routes(app)}
        assert {"scenes.show", "runs.redeliver", "notifier.outbox_message"} <= attacked
        assert set(PUBLIC) | set(BY_SECRET) <= attacked | {"static"}


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
def test_matrix_on_sqlite(settings: Settings, tmp_path: Path, production: bool) -> None:
    _check(settings, tmp_path, production)


@pytest.mark.postgres
@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
def test_matrix_on_postgres(settings: Settings, tmp_path: Path, postgres_url: str,
                            production: bool) -> None:
    _check(dataclasses.replace(settings, database_url=postgres_url), tmp_path, production)
