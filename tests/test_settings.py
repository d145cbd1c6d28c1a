"""Settings from the environment, and the log format they select."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from config.logging import JsonFormatter, configure_logging
from config.settings import DEFAULT_RETRY_SCHEDULE, load_settings


def test_defaults_are_the_embedded_installation(tmp_path: Path) -> None:
    settings = load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path / "d")})
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'scenewatch.sqlite'}"
    assert settings.search_database_url == settings.database_url
    assert settings.embedded and not settings.production
    assert settings.webhook_allow_private  # a laptop's receiver is usually local
    assert settings.webhook_retry_schedule == DEFAULT_RETRY_SCHEDULE
    # The generated secret key is kept, so signed links survive a restart.
    assert load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path / "d")}).secret_key == settings.secret_key


def test_production_refuses_private_webhooks_unless_allowed(tmp_path: Path) -> None:
    base = {"SCENEWATCH_DATA_DIR": str(tmp_path), "SCENEWATCH_ENV": "production",
            "SCENEWATCH_DATABASE_URL": "postgresql+psycopg://u@db/sw"}
    assert not load_settings(base).webhook_allow_private
    assert load_settings({**base, "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}).webhook_allow_private
    assert load_settings(base).search_database_url.endswith("search.sqlite")


@pytest.mark.parametrize("name, value", [
    ("SCENEWATCH_PORT", "eighty"), ("SCENEWATCH_ENV", "staging"),
    ("SCENEWATCH_WEBHOOK_RETRY_SCHEDULE", "5,soon"), ("SCENEWATCH_SMTP_SECURITY", "tls1.0"),
])
def test_bad_values_stop_with_the_setting_named(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SystemExit) as caught:
        load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path), name: value})
    assert name in str(caught.value)


def test_retry_schedule_override(tmp_path: Path) -> None:
    settings = load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path), "SCENEWATCH_WEBHOOK_RETRY_SCHEDULE": "1, 2,3"})
    assert settings.webhook_retry_schedule == (1, 2, 3)


def test_production_logs_are_json_lines(tmp_path: Path) -> None:
    settings = load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path), "SCENEWATCH_ENV": "production"})
    configure_logging(settings)
    handler = logging.getLogger("scenewatch").handlers[0]
    assert isinstance(handler.formatter, JsonFormatter)
    record = logging.LogRecord("scenewatch.runner", logging.INFO, __file__, 1, "scene %s ran", (7,), None)
    record.sw_scene = 7
    line = json.loads(handler.formatter.format(record))
    assert line["message"] == "scene 7 ran" and line["scene"] == 7 and line["level"] == "info"
    configure_logging(load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path)}))
    assert not isinstance(logging.getLogger("scenewatch").handlers[0].formatter, JsonFormatter)



@pytest.mark.parametrize("env, expected", [
    ({}, "http://127.0.0.1:8000"),
    ({"SCENEWATCH_PORT": "8123"}, "http://127.0.0.1:8123"),
    ({"SCENEWATCH_HOST": "0.0.0.0", "SCENEWATCH_PORT": "9001"}, "http://127.0.0.1:9001"),
    ({"SCENEWATCH_HOST": "::1", "SCENEWATCH_PORT": "9001"}, "http://[::1]:9001"),
    ({"SCENEWATCH_PORT": "8123", "SCENEWATCH_BASE_URL": "https://watch.example.org/"},
     "https://watch.example.org"),
])
def test_public_url_follows_where_serve_listens(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    settings = load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path), **env})
    assert settings.base_url == expected
    assert settings.base_url_set == ("SCENEWATCH_BASE_URL" in env)
