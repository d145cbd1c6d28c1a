"""The API on PostgreSQL: tokens, a concurrent keyed create (one scene), huge ids and
cursors refused cleanly (32-bit id columns), and the matrix's key case."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from config.extensions import db
from config.settings import load_settings
from tests.api.conftest import bearer, harvest_sample, issue_token, new_account

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api(tmp_path: Path, postgres_url: str) -> Iterator[Flask]:
    from config.app import create_app
    from config.migrate import upgrade

    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_DATABASE_URL": postgres_url,
           "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1", "SCENEWATCH_ENV": "production",
           "SCENEWATCH_SECRET_KEY": "pg-api-test"}
    app = create_app(load_settings(env))
    with app.app_context():
        upgrade()
        yield app


def test_api_on_postgres(pg_api: Flask, tmp_path: Path) -> None:
    from subscriptions.models import Scene

    assert db.engine is not None and db.engine.dialect.name == "postgresql"
    harvest_sample(tmp_path, 20)
    alice, bob = new_account("alice@example.org"), new_account("bob@example.org")
    token, other = issue_token(alice, "write"), issue_token(bob, "write")
    server = make_server("127.0.0.1", 0, pg_api, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/api/v1"
    try:
        codes: list[int] = []

        def create() -> None:
            codes.append(requests.post(f"{base}/scenes", timeout=60, json={"name": "pg", "query": {}},
                                       headers={**bearer(token), "Idempotency-Key": "pg-once"}).status_code)

        workers = [threading.Thread(target=create) for _ in range(5)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert 201 in codes and set(codes) <= {201, 409}
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Scene)) == 1
            scene_id = session.scalar(select(Scene.id))
        assert requests.get(f"{base}/scenes/{scene_id}", headers=bearer(other), timeout=30).status_code == 404
        assert requests.get(f"{base}/scenes/{2**40}", headers=bearer(token), timeout=30).status_code == 404
        assert requests.get(f"{base}/notifications?scene_id={2**40}", headers=bearer(token),
                            timeout=30).status_code == 422
        ran = requests.post(f"{base}/scenes/{scene_id}/runs", headers=bearer(token), timeout=60)
        assert ran.status_code == 201 and ran.json()["diff"]["counts"]["matched"] == 20
        tokens = requests.get(f"{base}/tokens", headers=bearer(token), timeout=30).json()["items"]
        assert requests.delete(f"{base}/tokens/{tokens[0]['id']}", headers=bearer(token), timeout=30).status_code == 204
        assert requests.get(f"{base}/scenes", headers=bearer(token), timeout=30).status_code == 401
    finally:
        server.shutdown()
        thread.join(timeout=10)
