"""Personal API tokens: shown once, stored hashed, scoped, revocable at once, expiring."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from config.extensions import db
from tests.api.conftest import bearer, issue_token


def test_a_token_is_stored_only_as_a_hash_and_shown_once(app, client, alice, alice_token):
    from subscriptions.models import ApiToken

    created = client.post("/api/v1/tokens", json={"name": "pipeline", "scope": "read"},
                          headers=bearer(alice_token))
    assert created.status_code == 201
    secret = created.get_json()["token"]
    assert secret.startswith("swt_") and len(secret) > 40
    with db.session() as session:
        rows = session.scalars(select(ApiToken)).all()
        stored = " ".join(f"{r.prefix} {r.token_hash} {r.name}" for r in rows)
    assert secret not in stored and alice_token not in stored
    listed = client.get("/api/v1/tokens", headers=bearer(alice_token)).get_json()["items"]
    assert {t["name"] for t in listed} >= {"pipeline"}
    assert all("token" not in t for t in listed)
    assert client.get("/api/v1/datasets", headers=bearer(secret)).status_code == 200


def test_revoked_token_is_refused_on_the_very_next_request(client, alice_token):
    other = client.post("/api/v1/tokens", json={"scope": "read"}, headers=bearer(alice_token)).get_json()
    assert client.get("/api/v1/scenes", headers=bearer(other["token"])).status_code == 200
    assert client.delete(f"/api/v1/tokens/{other['id']}", headers=bearer(alice_token)).status_code == 204
    refused = client.get("/api/v1/scenes", headers=bearer(other["token"]))
    assert refused.status_code == 401
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["detail"] == "token revoked"
    assert "invalid_token" in refused.headers["WWW-Authenticate"]


def test_expired_token_is_refused(app, client, alice):
    from subscriptions.models import ApiToken

    token = issue_token(alice, "read", expires_at=datetime.now(UTC) + timedelta(days=1))
    assert client.get("/api/v1/scenes", headers=bearer(token)).status_code == 200
    with db.session() as session:  # let a day pass
        row = session.scalar(select(ApiToken).where(ApiToken.prefix == token[:12]))
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    refused = client.get("/api/v1/scenes", headers=bearer(token))
    assert refused.status_code == 401 and refused.get_json()["detail"] == "token expired"


def test_no_token_a_garbled_one_or_a_cookie_gets_401(client, alice):
    assert client.get("/api/v1/scenes").status_code == 401
    assert client.get("/api/v1/scenes", headers={"Authorization": "Bearer swt_nope_nope"}).status_code == 401
    assert client.get("/api/v1/scenes", headers={"Authorization": "Basic YTpi"}).status_code == 401
    client.post("/login", data={"email": "alice@example.org", "password": "correct horse battery"})
    assert client.get("/scenes").status_code == 200  # the cookie works on the web pages …
    assert client.get("/api/v1/scenes").status_code == 401  # … and means nothing to the API


def test_scopes_bound_what_a_token_may_do(client, alice):
    read = issue_token(alice, "read")
    refused = client.post("/api/v1/scenes", json={"name": "x", "query": {}}, headers=bearer(read))
    assert refused.status_code == 403
    assert refused.get_json()["type"].endswith("insufficient-scope")
    # Searching with a body and previews only read, so a read token may.
    assert client.post("/api/v1/datasets/search", json={}, headers=bearer(read)).status_code == 200
    # No token can mint a bigger one; admin needs an administrator.
    escalate = client.post("/api/v1/tokens", json={"scope": "write"}, headers=bearer(read))
    assert escalate.status_code in (403, 422)
    write = issue_token(alice, "write")
    admin = client.post("/api/v1/tokens", json={"scope": "admin"}, headers=bearer(write))
    assert admin.status_code == 422 and admin.get_json()["errors"][0]["field"] == "scope"


def test_last_used_is_recorded(client, alice):
    token = issue_token(alice, "read")
    before = client.get("/api/v1/tokens", headers=bearer(token)).get_json()["items"][0]
    assert before["last_used_at"] is not None  # this very request used it
    assert before["state"] == "active"


def test_cli_creates_lists_and_revokes_tokens(app, client, alice):
    from config.cli import cli

    runner = CliRunner()
    obj = app
    made = runner.invoke(cli, ["tokens", "create", "--owner", "alice@example.org", "--scope", "write", "--json"],
                         obj=obj)
    assert made.exit_code == 0, made.output
    data = json.loads(made.output)
    assert data["scope"] == "write" and data["token"].startswith("swt_")
    assert client.get("/api/v1/scenes", headers=bearer(data["token"])).status_code == 200
    listed = runner.invoke(cli, ["tokens", "list", "--owner", "alice@example.org"], obj=obj)
    assert data["prefix"] in listed.output and data["token"] not in listed.output
    revoked = runner.invoke(cli, ["tokens", "revoke", str(data["id"]), "--json"], obj=obj)
    assert revoked.exit_code == 0 and json.loads(revoked.output)["state"] == "revoked"
    assert client.get("/api/v1/scenes", headers=bearer(data["token"])).status_code == 401
    unknown = runner.invoke(cli, ["tokens", "create", "--owner", "nobody@example.org"], obj=obj)
    assert unknown.exit_code == 2 and "owner" in unknown.output
