"""In production every line gunicorn and a Celery worker print is a JSON object:
gunicorn's error log and its access log (one line per request, carrying the request
id the app echoes in ``X-Request-ID``), and the worker's lines, Celery's own and
each task's (carrying the task id)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import sample_file

BIN = Path(sys.executable).parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update({"SCENEWATCH_ENV": "production", "SCENEWATCH_DATA_DIR": str(tmp_path / "data"),
                "SCENEWATCH_SECRET_KEY": "logs", "SCENEWATCH_MAIL_OUTBOX": "1", **extra})
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line parsed; fails on the first that is not a JSON object."""
    out = []
    for line in text.splitlines():
        if line.strip():
            parsed = json.loads(line)
            assert isinstance(parsed, dict), line
            out.append(parsed)
    return out


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("X-Request-ID", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("X-Request-ID", "")


def test_gunicorn_error_and_access_logs_are_json_lines_with_the_request_id(tmp_path: Path) -> None:
    env = _env(tmp_path)
    subprocess.run([str(BIN / "scenewatch"), "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "python:config.gunicorn_conf", "-k", "gthread", "-w", "1",
         "--threads", "4", "-b", f"127.0.0.1:{port}", "config.wsgi:app"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, echoed = _get(f"http://127.0.0.1:{port}/", {"X-Request-ID": "req-from-proxy-0001"})
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        missing_status, generated = _get(f"http://127.0.0.1:{port}/no-such-page")
        forged_status, replaced = _get(f"http://127.0.0.1:{port}/", {"X-Request-ID": 'x"} {"forged": 1'})
    finally:
        out, err = _stop(server)
    assert (status, echoed) == (200, "req-from-proxy-0001")
    assert missing_status == 404 and len(generated) == 32  # one of ours
    assert forged_status == 200 and replaced != 'x"} {"forged": 1' and len(replaced) == 32
    access = _json_lines(out)
    errors = _json_lines(err)
    assert {line["logger"] for line in errors} == {"gunicorn.error"}
    assert any("Listening at" in line["message"] for line in errors)
    by_id = {line.get("request_id"): line for line in access}
    assert {line["logger"] for line in access} == {"gunicorn.access"}
    first = by_id["req-from-proxy-0001"]
    assert (first["method"], first["path"], first["status"]) == ("GET", "/", 200)
    assert first["duration_ms"] >= 0 and first["bytes"] > 0
    assert (by_id[generated]["path"], by_id[generated]["status"]) == ("/no-such-page", 404)
    assert replaced in by_id


@pytest.mark.redis
def test_celery_worker_lines_are_json_and_task_lines_carry_the_task_id(tmp_path: Path) -> None:
    url = os.environ.get("SCENEWATCH_TEST_REDIS_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_REDIS_URL is not set (.ci/run sets it)")
    import redis
    from celery import Celery

    redis.Redis.from_url(url).flushdb()
    env = _env(tmp_path, SCENEWATCH_BROKER_URL=url)
    subprocess.run([str(BIN / "scenewatch"), "init"], env=env, cwd=tmp_path, check=True, capture_output=True)
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "config.worker", "--quiet", "worker", "-Q", "harvest,scenes,delivery",
         "--concurrency", "1"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = Celery(broker=url)
    try:
        result = client.send_task("search.tasks.harvest_source", args=["hz", str(sample_file())],
                                  queue="harvest")
        datasets = Path(tmp_path / "data" / "scenewatch.sqlite")
        deadline = time.monotonic() + 90
        import sqlite3

        while True:  # the harvest's rows appear once the worker ran the task
            assert time.monotonic() < deadline and worker.poll() is None, "the task did not run"
            with sqlite3.connect(datasets) as conn:
                if conn.execute("SELECT count(*) FROM harvest WHERE finished_at IS NOT NULL").fetchone()[0]:
                    break
            time.sleep(0.5)
        time.sleep(1)  # the "succeeded" line follows the commit
    finally:
        out, err = _stop(worker)
        client.close()
    lines = _json_lines(out) + _json_lines(err)
    assert any(line["message"] == "worker ready" and "harvest" in line["queues"] for line in lines)
    task_lines = [line for line in lines if line.get("task_id") == result.id]
    assert task_lines and all(line["task"] == "search.tasks.harvest_source" for line in task_lines)
    assert any("succeeded" in line["message"] for line in lines if result.id in line["message"]
               or line.get("task_id") == result.id)
