"""The authorization matrix over every API route that takes an id, in production mode:
another user's token, a read token on writes, revoked and expired tokens, no token.
Nothing of Alice's may be read or changed by anyone but Alice's write token."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select

from config.extensions import db
from tests.api.conftest import bearer, harvest_sample, issue_token, new_account
from tests.delivery.receiver_server import RecordingReceiver

WRITE_BODIES = {
    "PATCH": {"name": "taken over", "paused": True},
    "POST": {"overlap_hours": 1},
}
BODY_BY_ENDPOINT = {
    "api_scenes.ScenePreview": {"query": {"text": "交通"}},
    "api_channels.ChannelRotate": {"overlap_hours": 1},
    "api_sources.SourceHarvests": {},
}


@pytest.fixture
def prod_app(tmp_path: Path) -> Iterator[Flask]:
    from config.app import create_app
    from config.migrate import upgrade
    from config.settings import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update(SCENEWATCH_DATA_DIR=str(tmp_path / "instance"), SCENEWATCH_ENV="production",
               SCENEWATCH_SECRET_KEY="matrix-test-key", SCENEWATCH_WEBHOOK_ALLOW_PRIVATE="1",
               SCENEWATCH_WEBHOOK_TIMEOUT="3")
    app = create_app(load_settings(env))
    with app.app_context():
        upgrade()
        yield app


@pytest.fixture
def world(prod_app: Flask, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Alice with a scene, a webhook that received a real notification, runs and a
    token; Bob with tokens of his own."""
    from search.harvest import run_harvest
    from tests.helpers import write_snapshot

    client = prod_app.test_client()
    records = harvest_sample(tmp_path, 30)
    alice, bob = new_account("alice@example.org"), new_account("bob@example.org")
    alice_write = issue_token(alice, "write")
    with RecordingReceiver() as receiver:
        made = client.post("/api/v1/scenes", headers=bearer(alice_write),
                           json={"name": "mine", "query": {}, "webhook": receiver.url})
        assert made.status_code == 201, made.get_data(as_text=True)
        scene = made.get_json()
        client.post(f"/api/v1/scenes/{scene['id']}/runs", headers=bearer(alice_write))
        run_harvest("hz", write_snapshot(tmp_path / "less.json", records[1:]), fmt="portal-json")
        run = client.post(f"/api/v1/scenes/{scene['id']}/runs", headers=bearer(alice_write)).get_json()
        assert run["state"] == "changed", run
    notes = client.get("/api/v1/notifications", headers=bearer(alice_write)).get_json()["items"]
    assert notes, "the changed run wrote a notification"
    expired = issue_token(alice, "write", expires_at=datetime.now(UTC) + timedelta(hours=1))
    revoked = issue_token(alice, "write")
    from subscriptions.models import ApiToken

    with db.session() as session:
        session.scalar(select(ApiToken).where(ApiToken.prefix == expired[:12])).expires_at = (
            datetime.now(UTC) - timedelta(seconds=1))
        session.scalar(select(ApiToken).where(ApiToken.prefix == revoked[:12])).revoked_at = (
            datetime.now(UTC))
    alice_read = issue_token(alice, "read")
    dataset_id = client.get("/api/v1/datasets?limit=1", headers=bearer(alice_read)).get_json()["items"][0]["id"]
    yield {
        "client": client,
        "ids": {"scene_id": scene["id"], "run_id": run["id"], "channel_id": scene["channels"][0]["id"],
                "notification_id": notes[0]["id"], "token_id": _token_id(alice_read),
                "dataset_id": quote(dataset_id, safe=":/"), "old": 1, "new": 1, "name": "hz"},
        "tokens": {"alice_write": alice_write, "alice_read": alice_read, "bob_write": issue_token(bob, "write"),
                   "bob_read": issue_token(bob, "read"), "revoked": revoked, "expired": expired,
                   "admin": issue_token(new_account("carol@example.org", admin=True), "admin")},
    }


def _token_id(token: str) -> int:
    from subscriptions.models import ApiToken

    with db.session() as session:
        return session.scalar(select(ApiToken.id).where(ApiToken.prefix == token[:12]))


def alice_state() -> str:
    """Everything of Alice's that a request could change, as one comparable text."""
    from notifier.models import Channel, Notification
    from subscriptions.models import ApiToken, Scene, SceneRun, User

    with db.session() as session:
        alice = session.scalar(select(User).where(User.email == "alice@example.org"))
        rows: list[Any] = []
        for scene in session.scalars(select(Scene).where(Scene.owner_id == alice.id)):
            rows.append(["scene", scene.id, scene.name, scene.query, scene.paused, scene.schedule])
        for channel in session.scalars(select(Channel).where(Channel.owner_id == alice.id)):
            rows.append(["channel", channel.id, channel.paused, channel.secret, channel.disabled_reason])
        for run in session.scalars(select(SceneRun)):
            rows.append(["run", run.id, run.state])
        for note in session.scalars(select(Notification)):
            rows.append(["notification", note.id, note.state, note.attempts])
        for token in session.scalars(select(ApiToken).where(ApiToken.owner_id == alice.id)):
            rows.append(["token", token.id, token.revoked_at])
        return json.dumps(rows, default=str)


def id_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(method, path with Alice's ids to fill, endpoint) for every API route with an id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or not rule.arguments:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes.append((method, path, rule.endpoint))
    return routes


def _call(world: dict[str, Any], method: str, path: str, endpoint: str, token: str | None) -> Any:
    url = path.format(**world["ids"])
    headers = bearer(token) if token else {}
    body = BODY_BY_ENDPOINT.get(endpoint, WRITE_BODIES.get(method))
    return world["client"].open(url, method=method, headers=headers, json=body if method != "GET" else None)


def test_the_matrix_covers_every_route_with_an_id(prod_app):
    routes = id_routes(prod_app)
    assert len(routes) >= 15
    placeholders = {name for _, path, _ in routes for name in re.findall(r"{([a-z_]+)}", path)}
    assert placeholders <= {"scene_id", "run_id", "channel_id", "notification_id", "token_id",
                            "dataset_id", "old", "new", "name"}, "give the matrix an id for each new placeholder"


@pytest.mark.parametrize("who", ["bob_write", "bob_read", "admin", "revoked", "expired", None])
def test_nobody_else_reads_or_changes_alices_things(world, prod_app, who):
    before = alice_state()
    tokens = world["tokens"]
    leaks = []
    for method, path, endpoint in id_routes(prod_app):
        token = tokens[who] if who else None
        response = _call(world, method, path, endpoint, token)
        public = endpoint.startswith("api_datasets.")  # the catalog is public to every token
        if who in ("revoked", "expired", None):
            expected = {401}
        elif public and method == "GET":
            expected = {200}
        elif who == "admin" and endpoint.startswith("api_sources."):
            expected = {200, 201}  # an administrator's own business; everyone's scenes stay theirs
        else:
            expected = {403, 404}
        if response.status_code not in expected:
            leaks.append(f"{who}: {method} {path} -> {response.status_code}")
        assert response.content_type in ("application/json", "application/problem+json")
        if response.status_code == 401:
            assert "WWW-Authenticate" in response.headers
    assert not leaks, "\n".join(leaks)
    assert alice_state() == before


def test_a_read_token_cannot_write(world, prod_app):
    before = alice_state()
    wrote = []
    for method, path, endpoint in id_routes(prod_app):
        if method == "GET" or endpoint in ("api_scenes.ScenePreview",):
            continue
        response = _call(world, method, path, endpoint, world["tokens"]["alice_read"])
        if response.status_code != 403:
            wrote.append(f"{method} {path} -> {response.status_code}")
    assert not wrote, "\n".join(wrote)
    assert alice_state() == before


def test_the_owners_token_reaches_every_route(world, prod_app):
    for method, path, endpoint in id_routes(prod_app):
        if method == "DELETE":
            continue  # deleting first would turn the rest into 404s
        owner = "admin" if endpoint.startswith("api_sources.") else "alice_write"
        response = _call(world, method, path, endpoint, world["tokens"][owner])
        assert response.status_code < 400 or response.status_code == 409, (method, path, response.get_json())
