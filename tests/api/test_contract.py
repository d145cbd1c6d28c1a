"""The served OpenAPI document, checked by schemathesis against the running API with a
token: no server errors, and every response (status, content type, headers, body) is
one the document allows."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from tests.api.conftest import bearer, harvest_sample, issue_token, new_account

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = int(os.environ.get("SCENEWATCH_TEST_API_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One app for the whole module, served on 127.0.0.1, with a catalog, scenes, runs
    and a token; ids 1-3 exist so generated ids often hit real rows."""
    from config.app import create_app
    from config.migrate import upgrade
    from config.settings import load_settings

    folder: Path = tmp_path_factory.mktemp("contract")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update(SCENEWATCH_DATA_DIR=str(folder / "instance"), SCENEWATCH_WEBHOOK_TIMEOUT="2",
               SCENEWATCH_WEBHOOK_ALLOW_PRIVATE="1")
    app = create_app(load_settings(env))  # not TESTING: errors go through the handlers
    with app.app_context():
        upgrade()
        harvest_sample(folder, 60)
        user = new_account("fuzz@example.org", admin=True)
        token = issue_token(user, "admin")  # every operation, the sources ones included
        client = app.test_client()
        for name in ("交通", "教育", "全部"):
            made = client.post("/api/v1/scenes", headers=bearer(token),
                               json={"name": name, "query": {"text": name} if name != "全部" else {},
                                     "webhook": "http://127.0.0.1:9/hook"})
            assert made.status_code == 201, made.get_data(as_text=True)
            client.post(f"/api/v1/scenes/{made.get_json()['id']}/runs", headers=bearer(token))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield {"url": f"http://127.0.0.1:{server.server_port}", "token": token}
        finally:
            server.shutdown()
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def api_schema(contract_server: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_url(f"{contract_server['url']}/api/v1/openapi.json")


REAL_IDS = {"scene_id": 3, "channel_id": 3, "run_id": 6, "name": "hz"}


def _aim_at_real_rows(case: Any) -> None:
    """Half of the valid generated ids are moved onto rows that exist (1..n), so the
    success responses are checked as often as the 404s; invalid values stay as made."""
    for name, value in list((case.path_parameters or {}).items()):
        real = REAL_IDS.get(name)
        if isinstance(real, int) and isinstance(value, int) and value > 0 and value % 2 == 0:
            case.path_parameters[name] = 1 + value % real
        elif isinstance(real, str) and isinstance(value, str) and len(value) % 2 == 0:
            case.path_parameters[name] = real


def test_every_response_is_what_the_document_promises(api_schema: Any, contract_server: dict[str, Any]) -> None:
    """Every operation, EXAMPLES generated requests each (valid and invalid ones)."""
    headers = bearer(contract_server["token"])
    failures: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None, derandomize=True)
        def check(case: Any) -> None:
            if case.method == "DELETE" and case.path == "/api/v1/tokens/{token_id}":
                case.path_parameters["token_id"] = 10_000  # never revoke the token the run uses
            _aim_at_real_rows(case)
            response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
            calls.append(response.status_code)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures.append(f"{operation.label}: {exc}")
    statuses = {code: calls.count(code) for code in sorted(set(calls))}
    print(f"schemathesis: {len(operations)} operations, {len(calls)} requests, statuses {statuses}, "
          f"{len(failures)} failing operations")
    assert not failures, "\n\n".join(failures)
