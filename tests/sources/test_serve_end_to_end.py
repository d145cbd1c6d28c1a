"""The loop closes by itself: `scenewatch serve` (a real process) harvests a URL source
on its cron schedule with no command typed, and when the portal publishes its next real
snapshot an on-change scene's signed webhook arrives seconds after the harvest, with the
same diff a hand-run scene computes from the same two snapshots."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from config.cli import cli
from tests.delivery.receiver_server import RecordingReceiver
from tests.http_catalog import HttpCatalog

SERIES = "hdruk-gateway/datasets_csv_history"
QUERY = {"filters": {"source": ["hdruk"]}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update({"SCENEWATCH_DATA_DIR": str(data_dir), "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"})
    return env


def _cli(env: dict[str, str]) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        result = CliRunner().invoke(cli, [*args, "--json"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return run


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        port = _free_port()
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("scenewatch")), "serve", "--port", str(port)],
            env=env, stdout=open(tmp_path / "serve.log", "ab"), stderr=subprocess.STDOUT)
        started.append(process)
        _wait(lambda: _healthy(port), 60, "scenewatch serve to answer")
        return process

    yield start
    for process in started:
        process.terminate()
        process.wait(20)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _comparable(diff: dict[str, Any]) -> dict[str, Any]:
    """The diff's content without ids, times and links (which differ between installs)."""
    return {"counts": diff["counts"],
            "added": sorted(a["id"] for a in diff["added"]),
            "removed": sorted((r["id"], r["reason"]) for r in diff["removed"]),
            "changed": sorted((c["id"], tuple(sorted(f["field"] for f in c["changes"])))
                              for c in diff["changed"]),
            "moved": sorted((m["from"], m["to"]) for m in diff["moved"])}


def _by_hand(tmp_path: Path, first: Path, second: Path) -> dict[str, Any]:
    """The diff the same two snapshots give when harvested and run by hand."""
    run = _cli(_env(tmp_path / "by-hand"))
    run("harvest", "hdruk", str(first))
    scene = run("scenes", "create", "--name", "hand", "--query", json.dumps(QUERY),
                "--schedule", "manual")
    run("harvest", "hdruk", str(second))
    return run("scenes", "run", str(scene["id"]))


@pytest.mark.realdata
def test_serve_harvests_on_its_clock_and_pushes_the_diff(serve, shared_data: Path,
                                                         tmp_path: Path) -> None:
    first, second = sorted((shared_data / SERIES).glob("*.csv.gz"))[:2]
    expected = _by_hand(tmp_path, first, second)
    assert expected["run"]["state"] == "changed"

    env = _env(tmp_path / "instance")
    run = _cli(env)
    with HttpCatalog() as portal, RecordingReceiver() as receiver:
        portal.put("datasets.csv.gz", first)
        run("sources", "add", "hdruk", portal.url("datasets.csv.gz"), "--schedule", "* * * * *")
        serve(env)
        # No command typed: the clock harvests on the next minute.
        shown = _wait(lambda: [h for h in run("sources", "show", "hdruk")["harvests"]
                               if h["status"] == "ok"], 100, "the first scheduled harvest")
        assert shown[0]["trigger"] == "clock" and shown[0]["http_status"] == 200

        scene = run("scenes", "create", "--name", "HDR UK", "--query", json.dumps(QUERY),
                    "--schedule", "on-change", "--webhook", receiver.url)
        assert scene["baseline"]["state"] == "baseline" and scene["baseline"]["matched"] > 400
        receiver.secrets.append(scene["channels"][0]["secret"])

        portal.put("datasets.csv.gz", second)  # the portal publishes its next snapshot
        _wait(lambda: receiver.requests, 100, "the webhook")
        harvests = run("sources", "show", "hdruk")["harvests"]

    changed = next(h for h in harvests if h["status"] == "ok" and h["counts"]["new"] + h["counts"]["changed"]
                   + h["counts"]["removed"] > 0 and h["id"] != shown[0]["id"])
    assert changed["trigger"] == "clock"
    (delivery,) = receiver.requests
    assert delivery["verified"], "the signature did not verify with standardwebhooks"
    finished = datetime.fromisoformat(str(changed["finished_at"])).timestamp()
    assert delivery["received_at"] - finished < 10, "the webhook came long after the harvest"
    payload = json.loads(delivery["body"])
    assert payload["type"] == "scene.changed"
    assert _comparable(payload["data"]) == _comparable(expected)
    # Unchanged minutes in between were answered 304 by the portal.
    statuses = [r.status for r in portal.requests_for("/datasets.csv.gz")]
    assert statuses[0] == 200 and set(statuses) <= {200, 304}
