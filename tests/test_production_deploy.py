"""The README's production deployment, exactly as written, in a fresh virtualenv.

A virtualenv gets ``pip install -e '.[production]'`` and nothing else (no test
extra to hide a missing dependency). From one working directory it runs the
README's processes — gunicorn, one ``scenewatch scheduler``, one Celery worker —
against PostgreSQL and Redis, with a real SMTP server (aiosmtpd) and a real webhook
receiver verifying signatures with ``standardwebhooks``. The catalog is harvested
from *another* working directory (as from a second machine, with its own
``./instance``): the processes must see it, because the search index lives in
PostgreSQL. A scene on a one-minute cron schedule records its baseline, then
delivers the change as a verified webhook whose diff is exactly the one the embedded
default computes for the same snapshots, and an email. Every process is stopped by
its PID, and none is left behind.

Marker ``production``; ``.ci/run`` runs it (pip's cache keeps the install short).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.receiver_server import RecordingReceiver
from tests.search.test_es_end_to_end import _comparable, _sample_records, _snapshots, walkthrough

pytestmark = pytest.mark.production

ROOT = Path(__file__).resolve().parents[1]
SCENE_QUERY = {"text": "交通"}


class _MailSink:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def production_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the README's production install, and only that."""
    venv = tmp_path_factory.mktemp("prod") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.monotonic()
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", ".[production]"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"pip install -e '.[production]': {time.monotonic() - started:.0f} s")
    installed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=json"], capture_output=True,
                               text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(installed)}
    assert not names & {"pytest", "aiosmtpd", "standardwebhooks", "playwright"}  # no test extra
    return venv


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("SCENEWATCH_TEST_REDIS_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_REDIS_URL is not set (.ci/run sets it)")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def mail() -> Iterator[tuple[_MailSink, int]]:
    from aiosmtpd.controller import Controller

    sink, port = _MailSink(), _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


class Deployment:
    """The README's processes, started from ``workdir``; stopped by PID."""

    def __init__(self, venv: Path, env: dict[str, str], workdir: Path, port: int) -> None:
        self.venv, self.env, self.workdir, self.port = venv, env, workdir, port
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.logs: dict[str, Path] = {}

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *args: str, cwd: Path) -> str:
        done = subprocess.run([self.bin("scenewatch"), *args], env=self.env, cwd=cwd, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"scenewatch {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self) -> None:
        commands = {
            # README: web, clock, workers (in this order).
            "web": [self.bin("gunicorn"), "-c", "python:config.gunicorn_conf", "-k", "gthread", "-w", "2",
                    "--threads", "8", "--timeout", "600", "-b", f"127.0.0.1:{self.port}", "config.wsgi:app"],
            "scheduler": [self.bin("scenewatch"), "scheduler"],
            "worker": [self.bin("celery"), "-A", "config.worker", "--quiet", "worker",
                       "-Q", "harvest,scenes,delivery"],
        }
        for name, command in commands.items():
            self.logs[name] = self.workdir / f"{name}.log"
            with open(self.logs[name], "w") as log:
                self.processes[name] = subprocess.Popen(command, env=self.env, cwd=self.workdir, stdout=log,
                                                        stderr=subprocess.STDOUT, text=True)

    def alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited:\n{self.logs[name].read_text()[-3000:]}"

    def stop(self) -> list[int]:
        """SIGTERM each process by PID, wait, and return any PID (children included) still alive."""
        import psutil

        family: list[int] = []
        for process in self.processes.values():
            try:
                family += [process.pid, *(c.pid for c in psutil.Process(process.pid).children(recursive=True))]
            except psutil.NoSuchProcess:
                family.append(process.pid)
        for process in self.processes.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        time.sleep(1)
        return [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def _scene_runs(database_url: str, scene_id: int) -> list[tuple[int, str]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [(int(r[0]), str(r[1])) for r in conn.execute(
                text("SELECT id, state FROM scene_run WHERE scene_id = :s ORDER BY id"), {"s": scene_id})]
    finally:
        engine.dispose()


def _scheduled_states(database_url: str, scene_id: int) -> list[str]:
    """States of the scene's cron runs (scheduled on the minute; a baseline taken when the
    scene is saved is scheduled for that moment instead)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(text(
                "SELECT state FROM scene_run WHERE scene_id = :s "
                "AND scheduled_for = date_trunc('minute', scheduled_for) ORDER BY id"), {"s": scene_id})]
    finally:
        engine.dispose()


def _wait(what: str, check: Any, deadline: float, deployment: Deployment) -> Any:
    while True:
        found = check()
        if found:
            return found
        deployment.alive()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def _reference_diff(tmp_path: Path, snapshots: tuple[str, str]) -> dict[str, Any]:
    """The diff the embedded default computes for the same snapshots and scene."""
    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "reference"), "SCENEWATCH_SCHEDULER": "0",
           "SCENEWATCH_SECRET_KEY": "reference"}
    return walkthrough(env, snapshots)["diff"]


def _same_diff(document: dict[str, Any]) -> dict[str, Any]:
    """A diff document without what differs between installations: run ids and times,
    links, and the scene's own id."""
    out = _comparable(document)
    for key in ("id", "scheduled_for"):
        out["run"].pop(key, None)
    out["scene"].pop("id", None)
    return out


def test_readme_production_deployment_delivers_a_verified_webhook(
        production_venv: Path, postgres_url: str, redis_url: str, mail: tuple[_MailSink, int],
        tmp_path: Path) -> None:
    snapshots = _snapshots(_sample_records(), tmp_path)
    expected = _same_diff(_reference_diff(tmp_path, snapshots))
    port = _free_port()
    sink, smtp_port = mail
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update({
        "SCENEWATCH_ENV": "production",
        "SCENEWATCH_DATABASE_URL": postgres_url,
        "SCENEWATCH_BROKER_URL": redis_url,
        "SCENEWATCH_SECRET_KEY": "one-key-for-every-machine",
        "SCENEWATCH_BASE_URL": f"http://127.0.0.1:{port}",
        "SCENEWATCH_SMTP_HOST": "127.0.0.1",
        "SCENEWATCH_SMTP_PORT": str(smtp_port),
        "SCENEWATCH_SMTP_SECURITY": "none",
        "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver is on this machine
    })
    service_dir, other_machine = tmp_path / "service", tmp_path / "elsewhere"
    service_dir.mkdir()
    other_machine.mkdir()
    deployment = Deployment(production_venv, env, service_dir, port)
    deployment.run("init", cwd=service_dir)
    deployment.start()
    leftover: list[int] = []
    try:
        with RecordingReceiver() as receiver:
            deployment.run("harvest", "hangzhou-sample", snapshots[0], cwd=other_machine)
            created = json.loads(deployment.run(
                "scenes", "create", "--name", "交通", "--query", json.dumps(SCENE_QUERY, ensure_ascii=False),
                "--schedule", "* * * * *", "--webhook", receiver.url, "--email", "ops@example.org", "--json",
                cwd=other_machine))
            scene_id = int(created["id"])
            receiver.secrets.append(next(c["secret"] for c in created["channels"] if c["kind"] == "webhook"))
            # The web server reads the index the other machine filled (it is in PostgreSQL).
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=%E4%BA%A4%E9%80%9A", timeout=30)
            assert page.status == 200 and 'class="result"' in page.read().decode()
            # The first cron run (within ~30 s after its minute) finds nothing new (or takes
            # the baseline); the change is harvested right after it, so the next run sees
            # all of it at once.
            deadline = time.monotonic() + 150
            _wait("the first cron run", lambda: (states := _scheduled_states(postgres_url, scene_id))
                  and "working" not in states, deadline, deployment)
            assert [state for _, state in _scene_runs(postgres_url, scene_id)][0] == "baseline"
            assert set(_scheduled_states(postgres_url, scene_id)) <= {"baseline", "noop"}
            deployment.run("harvest", "hangzhou-sample", snapshots[1], cwd=other_machine)
            deadline = time.monotonic() + 150
            requests = _wait("the webhook", lambda: list(receiver.requests), deadline, deployment)
            _wait("the email", lambda: sink.messages, time.monotonic() + 60, deployment)
            time.sleep(2)  # anything sent twice would arrive now
            requests = list(receiver.requests)
    finally:
        leftover = deployment.stop()
    assert leftover == [], f"processes still running after SIGTERM: {leftover}"
    assert len(requests) == 1 and requests[0]["verified"], requests
    payload = json.loads(requests[0]["body"])
    diff = payload["data"]
    assert diff["run"]["state"] == "changed"
    # A cron run: scheduled on the minute, started by the 30 s scene tick soon after.
    scheduled = datetime.fromisoformat(diff["run"]["scheduled_for"])
    assert scheduled.second == 0 and scheduled.microsecond == 0
    assert timedelta(0) <= datetime.fromisoformat(diff["run"]["started_at"]) - scheduled < timedelta(seconds=60)
    assert _same_diff(diff) == expected
    assert diff["counts"]["added"] == 1 and diff["counts"]["changed"] == 1 and diff["counts"]["removed"] == 2
    assert {r["reason"] for r in diff["removed"]} == {"deleted_from_catalog", "no_longer_matches"}
    assert diff["links"]["scene"].startswith(env["SCENEWATCH_BASE_URL"] + "/")
    assert [rcpt for rcpt, _ in sink.messages] == [["ops@example.org"]]
    # Every line the three processes wrote is a JSON object (production logs).
    for name, path in deployment.logs.items():
        for line in path.read_text().splitlines():
            if line.strip():
                assert isinstance(json.loads(line), dict), f"{name}: {line}"
    # Nothing was written under the other machine's working directory but its own
    # instance dir (secret key aside, no index file: the index is in PostgreSQL).
    assert not list(other_machine.rglob("*.sqlite"))
