"""Hostile portals against the real `scenewatch harvest` command, each in its own process.

A 2 MB gzip that expands to 2 GiB ends with a clear error and peak RSS under 1 GB on
the default settings (512 MiB cap); a server dripping a byte at a time is abandoned by
the minimum-speed rule (window shortened by its setting); either way the source's
earlier data is untouched and the error is on the harvest row.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.hostile_servers import DripServer, gzip_bomb
from tests.http_catalog import HttpCatalog
from tests.search.conftest import HARVEST_FIXTURES

NANNING = HARVEST_FIXTURES / "guangxi_nanning.json"
SCENEWATCH = str(Path(sys.executable).with_name("scenewatch"))
GB = 1000 * 1000 * 1000
# Runs a command and writes its peak RSS (KiB, from the kernel's own accounting).
MEASURE = ("import json, resource, subprocess, sys\n"
           "done = subprocess.run(sys.argv[2:], capture_output=True, text=True)\n"
           "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
           "json.dump({'code': done.returncode, 'out': done.stdout, 'err': done.stderr,"
           " 'peak_kib': peak}, open(sys.argv[1], 'w'))\n")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update(SCENEWATCH_DATA_DIR=str(data_dir), SCENEWATCH_SCHEDULER="0", **extra)
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCENEWATCH, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _measured(env: dict[str, str], tmp_path: Path, *args: str) -> dict[str, Any]:
    report = tmp_path / "measure.json"
    subprocess.run([sys.executable, "-c", MEASURE, str(report), SCENEWATCH, *args], env=env,
                   timeout=300, check=True)
    return json.loads(report.read_text())


def _state(data_dir: Path, source: str) -> dict[str, Any]:
    engine = create_engine(f"sqlite:///{data_dir / 'scenewatch.sqlite'}")
    with engine.connect() as conn:
        live = conn.execute(text("SELECT count(*) FROM dataset WHERE source = :s AND deleted_at IS NULL"),
                            {"s": source}).scalar()
        versions = conn.execute(text("SELECT count(*) FROM dataset_version")).scalar()
        last = conn.execute(text("SELECT state, error FROM harvest WHERE source = :s ORDER BY id DESC"),
                            {"s": source}).first()
    engine.dispose()
    assert last is not None, f"no harvest of {source}"
    return {"live": live, "versions": versions, "last_state": last[0], "last_error": last[1]}


def test_gzip_bomb_is_refused_with_peak_rss_under_1_gb(tmp_path: Path) -> None:
    env = _env(tmp_path / "instance")
    assert _cli(env, "init").returncode == 0
    with HttpCatalog() as portal:
        portal.put("guangxi_nanning.json.gz", NANNING.read_bytes())
        url = portal.url("guangxi_nanning.json.gz")
        first = _cli(env, "harvest", "nanning", url, "--json")
        assert first.returncode == 0, first.stderr
        before = _state(tmp_path / "instance", "nanning")
        bomb = gzip_bomb(2048)  # 2 GiB of JSON whitespace
        assert len(bomb) < 2_200_000
        portal.put("guangxi_nanning.json.gz", bomb)
        measured = _measured(env, tmp_path, "harvest", "nanning", url)
    assert measured["code"] != 0
    assert "larger than 536870912 bytes (SCENEWATCH_HARVEST_MAX_BYTES)" in measured["err"]
    assert "Traceback" not in measured["err"]
    peak_bytes = measured["peak_kib"] * 1024
    print(f"gzip bomb: peak RSS {peak_bytes / 1e6:.0f} MB")
    assert peak_bytes < GB, f"peak RSS {peak_bytes / 1e6:.0f} MB"
    after = _state(tmp_path / "instance", "nanning")
    assert (after["live"], after["versions"]) == (before["live"], before["versions"]) == (6, 6)
    assert after["last_state"] == "error" and "SCENEWATCH_HARVEST_MAX_BYTES" in after["last_error"]
    shown = json.loads(_cli(env, "sources", "show", "nanning", "--json").stdout)
    assert "SCENEWATCH_HARVEST_MAX_BYTES" in shown["harvests"][0]["error"]


def test_drip_server_ends_with_a_clear_error_and_keeps_earlier_data(tmp_path: Path) -> None:
    env = _env(tmp_path / "instance", SCENEWATCH_HARVEST_SPEED_WINDOW="3")
    assert _cli(env, "init").returncode == 0
    assert _cli(env, "harvest", "nanning", str(NANNING)).returncode == 0
    before = _state(tmp_path / "instance", "nanning")
    with DripServer(gap=0.5) as server:
        started = time.monotonic()
        done = _cli(env, "harvest", "nanning", server.url, "--json", timeout=60)
        elapsed = time.monotonic() - started
    assert done.returncode != 0
    error = json.loads(done.stdout)["error"]["message"]
    assert "slower than 1024 bytes/s; abandoned" in error, error
    # The speed window is 3 s; the rest is the CLI starting up, which on a loaded machine
    # takes many seconds. A fetch that never gives up would run into the 60 s timeout.
    assert 3 <= elapsed < 50, elapsed
    after = _state(tmp_path / "instance", "nanning")
    assert (after["live"], after["versions"]) == (before["live"], before["versions"])
    assert after["last_state"] == "error" and "slower than" in after["last_error"]
    shown = json.loads(_cli(env, "sources", "show", "nanning", "--json").stdout)
    assert "slower than 1024 bytes/s" in shown["harvests"][0]["error"]
    assert shown["harvests"][0]["status"] == "error"


def test_a_one_byte_per_5_s_drip_ends_within_5_minutes_on_default_settings(tmp_path: Path) -> None:
    """No setting shortened: the 60 s window at 1 KB/s abandons the drip after about
    60 + 5 s (the arithmetic is in test_harvest_fetch.py)."""
    env = _env(tmp_path / "instance")
    assert _cli(env, "init").returncode == 0
    with DripServer(gap=5.0) as server:
        started = time.monotonic()
        done = _cli(env, "harvest", "drip", server.url, "--json", timeout=300)
        elapsed = time.monotonic() - started
    error = json.loads(done.stdout)["error"]["message"]
    assert done.returncode != 0 and "slower than 1024 bytes/s; abandoned" in error, error
    print(f"default-settings drip abandoned after {elapsed:.1f} s")
    assert 60 <= elapsed < 5 * 60, elapsed
    assert server.connections == 1
