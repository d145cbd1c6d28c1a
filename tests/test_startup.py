"""Service processes refuse a configuration that cannot work, with one clear line.

Production without SMTP would quietly write every mail to a Maildir on one machine
and call it sent; a PostgreSQL store with a local SQLite index would split the
search index between machines. The web server, the scheduler and the worker each
stop at once, before touching the database, saying why and what to set.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import load_settings
from config.startup import startup_problem

BIN = Path(sys.executable).parent
PROCESSES = {
    "web": [str(BIN / "gunicorn"), "-c", "python:config.gunicorn_conf", "-b", "127.0.0.1:0", "config.wsgi:app"],
    "scheduler": [str(BIN / "scenewatch"), "scheduler"],
    "worker": [str(BIN / "celery"), "-A", "config.worker", "--quiet", "worker", "-Q", "scenes", "--pool", "solo"],
}


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update({"SCENEWATCH_DATA_DIR": str(tmp_path / "data"), "SCENEWATCH_ENV": "production",
                "SCENEWATCH_SECRET_KEY": "k", "SCENEWATCH_BROKER_URL": "redis://127.0.0.1:1/0"})
    env.update(settings)
    return env


def _refusal(command: list[str], env: dict[str, str], cwd: Path) -> str:
    """The one line a refused process prints (it must exit non-zero, print nothing else)."""
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0, done.stdout + done.stderr
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_production_without_smtp_or_outbox_opt_in_refuses_to_start(tmp_path: Path, process: str) -> None:
    line = _refusal(PROCESSES[process], _env(tmp_path), tmp_path)
    assert line.startswith(f"scenewatch {process} not started: ")
    assert "SCENEWATCH_SMTP_HOST" in line and "SCENEWATCH_MAIL_OUTBOX=1" in line
    # Refused before anything was set up: no database file was created.
    assert not (tmp_path / "data" / "scenewatch.sqlite").exists()


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_a_postgres_store_with_a_local_sqlite_index_is_refused(tmp_path: Path, process: str) -> None:
    env = _env(tmp_path, SCENEWATCH_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none",
               SCENEWATCH_SEARCH_BACKEND="sqlite", SCENEWATCH_SMTP_HOST="127.0.0.1")
    line = _refusal(PROCESSES[process], env, tmp_path)
    assert "SCENEWATCH_SEARCH_BACKEND=sqlite" in line and "PostgreSQL" in line


def test_what_production_needs_for_mail(tmp_path: Path) -> None:
    base = {"SCENEWATCH_DATA_DIR": str(tmp_path), "SCENEWATCH_ENV": "production"}
    assert "SCENEWATCH_SMTP_HOST" in (startup_problem(load_settings(base)) or "")
    assert startup_problem(load_settings({**base, "SCENEWATCH_SMTP_HOST": "mail.example.org"})) is None
    assert startup_problem(load_settings({**base, "SCENEWATCH_MAIL_OUTBOX": "1"})) is None
    assert startup_problem(load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path)})) is None  # development


@pytest.mark.parametrize("env, backend", [
    ({}, "sqlite"),
    ({"SCENEWATCH_DATABASE_URL": "postgresql+psycopg://u@db/sw"}, "postgres"),
    ({"SCENEWATCH_DATABASE_URL": "postgresql+psycopg://u@db/sw", "SCENEWATCH_SEARCH_URL": "http://es:9200"},
     "elasticsearch"),
    ({"SCENEWATCH_SEARCH_URL": "http://es:9200"}, "elasticsearch"),
])
def test_the_search_backend_follows_the_store(tmp_path: Path, env: dict[str, str], backend: str) -> None:
    assert load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path), **env}).search_backend == backend


@pytest.mark.parametrize("env, named", [
    ({"SCENEWATCH_SEARCH_BACKEND": "postgres"}, "needs a PostgreSQL"),
    ({"SCENEWATCH_SEARCH_BACKEND": "elasticsearch"}, "needs SCENEWATCH_SEARCH_URL"),
    ({"SCENEWATCH_SEARCH_BACKEND": "whoosh"}, "must be one of"),
    ({"SCENEWATCH_LOG_LEVEL": "loud"}, "SCENEWATCH_LOG_LEVEL"),
])
def test_impossible_search_and_log_settings_stop_with_the_setting_named(
        tmp_path: Path, env: dict[str, str], named: str) -> None:
    with pytest.raises(SystemExit) as caught:
        load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path), **env})
    assert named in str(caught.value)
