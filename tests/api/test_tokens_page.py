"""The account's API tokens page: create (shown once), list, revoke; only one's own."""
from __future__ import annotations

import re

from tests.api.conftest import PASSWORD, bearer


def _login(client, email):
    from tests.api.conftest import new_account

    new_account(email)
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302


def test_create_shows_the_token_once_and_it_works(app, client):
    _login(client, "alice@example.org")
    assert client.get("/account/tokens?lang=en").status_code == 200
    made = client.post("/account/tokens?lang=en", data={"name": "laptop", "scope": "write", "expires_in_days": "30"})
    assert made.status_code == 201
    token = re.search(r'<code id="new-token">(swt_[^<]+)</code>', made.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/scenes", headers=bearer(token)).status_code == 200
    page = client.get("/account/tokens?lang=en").get_data(as_text=True)
    assert "laptop" in page and token not in page and token[:12] in page
    assert "Create and revoke API tokens" in client.get("/account?lang=en").get_data(as_text=True)


def test_bad_input_names_the_field(app, client):
    _login(client, "alice@example.org")
    bad = client.post("/account/tokens?lang=en", data={"name": "x", "scope": "admin", "expires_in_days": "0"})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "whole number of days" in text


def test_revoke_only_ones_own(app, client):
    from tests.api.conftest import issue_token, new_account

    bob_token = issue_token(new_account("bob@example.org"), "read")
    _login(client, "alice@example.org")
    from config.extensions import db
    from subscriptions.models import ApiToken

    with db.session() as session:
        bob_token_id = session.query(ApiToken.id).filter(ApiToken.prefix == bob_token[:12]).scalar()
    assert client.post(f"/account/tokens/{bob_token_id}/revoke").status_code == 404
    assert client.get("/api/v1/scenes", headers=bearer(bob_token)).status_code == 200
    made = client.post("/account/tokens", data={"scope": "read"})
    token = re.search(r'<code id="new-token">(swt_[^<]+)</code>', made.get_data(as_text=True)).group(1)
    with db.session() as session:
        own_id = session.query(ApiToken.id).filter(ApiToken.prefix == token[:12]).scalar()
    assert client.post(f"/account/tokens/{own_id}/revoke").status_code == 302
    assert client.get("/api/v1/scenes", headers=bearer(token)).status_code == 401


def test_logged_out_visitors_are_sent_to_log_in(app, client):
    assert client.get("/account/tokens").status_code == 302
    assert client.post("/account/tokens/1/revoke").status_code == 302


def test_the_page_needs_the_csrf_token_and_the_api_never_does(settings):
    from config.app import create_app
    from config.migrate import upgrade
    from tests.api.conftest import issue_token, new_account

    app = create_app(settings, TESTING=True)  # CSRF checks on
    with app.app_context():
        upgrade()
        client = app.test_client()
        _login_with_csrf(client)
        assert client.post("/account/tokens", data={"scope": "read"}).status_code == 400
        token = issue_token(new_account("bob@example.org"), "write")
        made = client.post("/api/v1/scenes", headers=bearer(token), json={"name": "x", "query": {}})
        assert made.status_code == 201


def _login_with_csrf(client):
    from tests.api.conftest import new_account

    new_account("alice@example.org")
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": "alice@example.org", "password": PASSWORD,
                                       "csrf_token": csrf}).status_code == 302
