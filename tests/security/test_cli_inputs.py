"""Hostile input on the command line: a clear message naming the field, exit code 2,
never a traceback; nothing bad is saved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.cli import cli

NESTED = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000
CASES = {
    "deeply nested": NESTED,
    "nested object": '{"filters": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}",
    "4300+ digits": '{"ranges": {"record_count": {"gte": ' + HUGE_INT + "}}}",
    "2^63 bound": '{"ranges": {"record_count": {"gte": 9223372036854775808}}}',
    "-2^63 bound": '{"ranges": {"record_count": {"lte": -9223372036854775808}}}',
    "huge float": '{"ranges": {"record_count": {"gte": 1e300}}}',
    "NaN": '{"ranges": {"record_count": {"gte": NaN}}}',
    "Infinity": '{"ranges": {"record_count": {"gte": Infinity}}}',
    "deep filter": '{"filters": {"region": ' + "[" * 30 + "]" * 30 + "}}",
    "NUL": '{"text": "交通\\u0000"}',
    "long text": json.dumps({"text": "交" * 100_000}),
    "lone surrogate": '{"text": "\\ud800"}',
    "not an object": "[1, 2]",
    "number": "12",
    "garbage": "{'text': 1}",
    "page-like": '{"text": "a", "limit": -1}',
}


@pytest.fixture
def invoke(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance")}

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), env=env)

    return run


@pytest.mark.parametrize("name", sorted(CASES))
def test_search_and_scene_create_refuse_bad_queries_cleanly(invoke, name: str) -> None:  # type: ignore[no-untyped-def]
    raw = CASES[name]
    for args in (("search", "--query", raw), ("scenes", "create", "--name", "x", "--query", raw),
                 ("search", "--json", "--query", raw)):
        result = invoke(*args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            name, args[0], repr(result.exception))
        assert "Traceback" not in result.output
        if name == "NUL" or name == "lone surrogate":
            continue  # valid queries: they run (and find nothing)
        assert result.exit_code == 2, (name, args[:2], result.output[-300:])
        assert "query" in result.output or "record_count" in result.output, result.output[-300:]
    listed = invoke("scenes", "list", "--json")
    saved = json.loads(listed.stdout)
    assert listed.exit_code == 0 and len(saved) == (1 if name in ("NUL", "lone surrogate") else 0)


def test_a_bound_past_64_bits_is_refused_and_not_saved(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("scenes", "create", "--name", "big", "--json", "--query",
                    '{"ranges": {"record_count": {"gte": 9223372036854775808}}}')
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["errors"][0]["field"] == "query.ranges.record_count.gte"
    assert json.loads(invoke("scenes", "list", "--json").stdout) == []
    ok = invoke("scenes", "create", "--name", "max", "--json", "--query",
                '{"ranges": {"record_count": {"gte": 9223372036854775807}}}')
    assert ok.exit_code == 0, ok.output
    created = json.loads(ok.stdout)
    assert created["baseline"]["state"] == "baseline"  # saving took the baseline without error
    run = invoke("scenes", "run", str(created["id"]), "--json")
    assert run.exit_code == 0 and json.loads(run.stdout)["run"]["state"] == "noop"


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env["SCENEWATCH_DATA_DIR"] = str(tmp_path / "instance")
    scenewatch = Path(sys.executable).with_name("scenewatch")
    for raw in ("[" * 20_000 + "]" * 20_000, '{"ranges": {"record_count": {"gte": ' + HUGE_INT + "}}}"):
        done = subprocess.run([str(scenewatch), "search", "--query", raw], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr[-500:]
        assert "Traceback" not in done.stderr and "error: " in done.stderr
        assert "query" in done.stderr
