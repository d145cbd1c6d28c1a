"""The demo's scene is reachable on the web with the login it prints (or as --owner), and
`make run`'s sample load leaves a catalog that is not empty alone."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.cli import cli
from tests.helpers import sample_file, sample_records, write_snapshot


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}


def _invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _client(env: dict[str, str]):
    from config.app import create_app
    from config.settings import load_settings

    return create_app(load_settings(env), TESTING=True, WTF_CSRF_ENABLED=False).test_client()


def test_demo_prints_a_login_that_opens_its_scene(env: dict[str, str]) -> None:
    result = _invoke(env, "demo")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("login:"))
    email, password = line.split(" as ")[1].split("  password ")
    scene_path = next(x for x in result.output.splitlines() if x.startswith("scene:")).split()[1]
    scene_path = "/" + scene_path.split("/", 3)[3]
    client = _client(env)
    assert client.get(scene_path).status_code == 302  # logged out: to the login page
    assert client.post("/login", data={"email": email, "password": "wrong password"}).status_code == 401
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    page = client.get(scene_path)
    assert page.status_code == 200 and "HDR UK" in page.get_data(as_text=True)


def test_demo_and_scenes_create_for_an_existing_owner(env: dict[str, str]) -> None:
    assert _invoke(env, "init").exit_code == 0
    client = _client(env)
    assert client.post("/register", data={"email": "me@example.org", "password": "long enough pw",
                                          "password2": "long enough pw", "timezone": "UTC"}).status_code == 302
    missing = _invoke(env, "demo", "--owner", "nobody@example.org", "--json")
    assert missing.exit_code != 0 and "nobody@example.org" in missing.output
    result = json.loads(_invoke(env, "demo", "--owner", "me@example.org", "--json").output)
    assert result["login"] == {"url": result["login"]["url"], "email": "me@example.org", "password": None}
    created = json.loads(_invoke(env, "scenes", "create", "--name", "mine", "--owner", "me@example.org",
                                 "--json").output)
    for scene_id in (result["scene_id"], created["id"]):
        assert client.get(f"/scenes/{scene_id}").status_code == 200


def test_sample_loads_only_into_an_empty_catalog(env: dict[str, str], tmp_path: Path) -> None:
    first = json.loads(_invoke(env, "harvest", "hangzhou-sample", str(sample_file()), "--if-empty",
                               "--json").output)
    assert first["new"] > 100
    rows = sample_records()
    rows[0] = {**rows[0], next(k for k in rows[0] if "名称" in k): "改过的标题"}
    changed = json.loads(_invoke(env, "harvest", "hangzhou-sample", write_snapshot(tmp_path / "x.json", rows),
                                 "--json").output)
    assert changed["changed"] == 1
    again = _invoke(env, "harvest", "hangzhou-sample", str(sample_file()), "--if-empty", "--json")
    assert again.exit_code == 0
    assert json.loads(again.output)["skipped"] is True
    found = json.loads(_invoke(env, "search", "--query", '{"text": "改过的标题"}', "--json").output)
    assert found["total"] == 1  # the later harvest was not undone
