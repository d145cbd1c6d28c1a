"""The search page with facets under load, served as the README's production section
serves it: gunicorn, gthread, 2 workers × 8 threads, SCENEWATCH_ENV=production.

Builds a data dir from real portal files (``scenewatch init`` + ``scenewatch harvest``,
reused with ``--data-dir``), starts gunicorn on a free 127.0.0.1 port, then runs
``--clients`` concurrent clients (default 50), each loading the search page with a
realistic query and facets, for ``--seconds`` (default 30). Prints requests, errors,
p50 / p95 / p99 / max latency in ms and throughput; writes them to
``bench/results/search_gunicorn.json``. Requirement: 0 errors.

    .venv/bin/python bench/search_gunicorn.py [--data-dir DIR] [--files N] [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cnpds-china-portals"
FOLDERS = ("datacrawler", "guangxi_hainan", "sichuan_guizhou", "tamakow")
RESULTS = ROOT / "bench" / "results" / "search_gunicorn.json"
BIN = Path(sys.executable).parent
WORDS = ("交通", "公交", "医疗", "学校", "企业", "环境", "人口", "统计", "旅游", "农业", "停车",
         "养老", "水质", "公园", "道路", "许可", "食品", "气象", "教育", "医院", "就业", "住房")
FACETS = ("", "&f.open_type=conditional", "&f.formats=csv", "&f.update_frequency=monthly",
          "&modified_from=2020-01-01", "&min_completeness=0.5")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update(SCENEWATCH_ENV="production", SCENEWATCH_DATA_DIR=str(data_dir),
               SCENEWATCH_SECRET_KEY=secrets.token_urlsafe(32), SCENEWATCH_SCHEDULER="0",
               SCENEWATCH_MAIL_OUTBOX="1")  # no SMTP server here; the search page sends no mail
    return env


def build_catalog(data_dir: Path, files: int) -> int:
    """Init and harvest the first ``files`` portal files; returns how many were harvested."""
    env = _env(data_dir)
    subprocess.run([str(BIN / "scenewatch"), "init"], env=env, check=True, capture_output=True)
    paths = sorted(p for folder in FOLDERS for p in (DATA / folder).glob("*.json*") if p.is_file())
    chosen = paths[:files]
    for path in chosen:
        subprocess.run([str(BIN / "scenewatch"), "harvest", path.name.split(".")[0], str(path),
                        "--no-progress", "--json"], env=env, check=True, capture_output=True)
    return len(chosen)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """gunicorn exactly as the README's production section runs it."""
    command = [str(BIN / "gunicorn"), "-k", "gthread", "-w", "2", "--threads", "8", "--timeout", "600",
               "-b", f"127.0.0.1:{port}", "config.wsgi:app"]
    process = subprocess.Popen(command, cwd=ROOT, env=_env(data_dir), stdout=subprocess.DEVNULL,
                               stderr=open(data_dir / "gunicorn.log", "wb"))
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.3)
    process.terminate()
    process.wait(timeout=30)
    raise SystemExit(f"gunicorn did not come up; see {data_dir / 'gunicorn.log'}")


def load(base: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads loading the search page until ``seconds`` have passed."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    gate = threading.Barrier(clients)

    def client(n: int) -> None:
        rng = random.Random(n)
        session = requests.Session()
        gate.wait()
        while time.perf_counter() < stop:
            url = f"{base}/?q={rng.choice(WORDS)}{rng.choice(FACETS)}&page={rng.randint(1, 3)}"
            started = time.perf_counter()
            try:
                reply = session.get(url, timeout=60)
                ok = reply.status_code == 200 and "facet" in reply.text
                problem = None if ok else f"HTTP {reply.status_code}"
            except requests.RequestException as exc:
                problem = type(exc).__name__
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(problem)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0

    return {"requests": len(latencies), "errors": len(errors), "error_kinds": sorted(set(errors))[:10],
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1], 1) if ordered else 0.0,
            "mean_ms": round(statistics.fmean(ordered), 1) if ordered else 0.0,
            "requests_per_s": round(len(latencies) / wall, 1), "seconds": round(wall, 1)}


def _datasets(data_dir: Path) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "scenewatch.sqlite") as conn:
        return int(conn.execute("SELECT count(*) FROM dataset WHERE deleted_at IS NULL").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="reuse (or build) the installation here")
    parser.add_argument("--files", type=int, default=20, help="portal files to harvest (default 20)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="sw-bench-"))
    if not (data_dir / "scenewatch.sqlite").exists():
        print(f"building the catalog in {data_dir} ...", flush=True)
        build_catalog(data_dir, args.files)
    port = _free_port()
    server = start_gunicorn(data_dir, port)
    try:
        base = f"http://127.0.0.1:{port}"
        load_before = os.getloadavg()[0]
        total = requests.get(f"{base}/?q=", timeout=60)
        banner = total.headers.get("Server", "")
        figures = load(base, args.clients, args.seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    result = {"bench": "search page with facets under gunicorn (README production command)",
              "when": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}",
              "server": "gunicorn -k gthread -w 2 --threads 8, SCENEWATCH_ENV=production, SQLite + FTS5",
              "portal_files": args.files, "datasets": _datasets(data_dir), "clients": args.clients,
              "load_average_before": round(load_before, 1), "server_header": banner, **figures}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if figures["errors"]:
        raise SystemExit(f"{figures['errors']} errors under load")


if __name__ == "__main__":
    main()
