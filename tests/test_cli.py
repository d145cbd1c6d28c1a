"""The command line, as a user runs it: help, JSON output, clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from config.cli import cli
from tests.helpers import sample_file, sample_records, write_snapshot


@pytest.fixture
def run_cli(tmp_path: Path):
    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_every_command_has_help(run_cli) -> None:
    commands = _commands(cli)
    assert {("harvest",), ("search",), ("scenes", "create"), ("scenes", "run"), ("serve",), ("demo",),
            ("init",)} <= set(commands)
    for path in commands:
        result = run_cli(*path, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, path


def test_harvest_search_scene_round_trip(run_cli, tmp_path: Path) -> None:
    assert run_cli("init", "--json").exit_code == 0
    result = run_cli("harvest", "sample", str(sample_file()), "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["seen"] == counts["new"] + counts["changed"] + counts["unchanged"] + counts["quarantined"]
    assert counts["new"] > 100

    found = json.loads(run_cli("search", "--query", '{"text": "交通"}', "--limit", "50", "--json").output)
    assert found["total"] > 0
    for hit in found["hits"]:
        # On this sample (no tags or themes) every hit has 交通 in its title or description.
        assert "交通" in hit["title"] + (hit.get("description") or "")
    assert {"region", "formats", "open_type"} <= set(found["facets"])

    created = json.loads(run_cli("scenes", "create", "--name", "全部", "--query", "{}", "--schedule", "manual",
                                 "--json").output)
    # Saving records the baseline right away (shown in the create output).
    assert created["baseline"]["state"] == "baseline"
    assert created["baseline"]["matched"] == counts["new"]

    records = sample_records()
    run_cli("harvest", "sample", write_snapshot(tmp_path / "less.json", records[3:]), "--json")
    document = json.loads(run_cli("scenes", "run", str(created["id"]), "--json").output)
    assert document["run"]["state"] == "changed"
    assert document["counts"]["removed"] + document["counts"]["moved"] >= 1
    assert set(document) >= {"scene", "run", "counts", "added", "removed", "changed", "moved"}


@pytest.mark.parametrize("query, field", [
    ('{"filters": {"regoin": ["杭州市"]}}', "regoin"),
    ('{"ranges": {"modified": {"gte": "2023-13-45"}}}', "modified"),
    ('{"filters": {"region": 5}}', "region"),
    ('{"colour": "blue"}', "colour"),
])
def test_bad_scene_query_is_refused_with_the_field(run_cli, query: str, field: str) -> None:
    result = run_cli("scenes", "create", "--name", "bad", "--query", query, "--json")
    assert result.exit_code == 2
    assert field in result.stderr
    error = json.loads(result.stdout)["error"]
    assert any(field in e["field"] for e in error["errors"])


def test_query_that_is_not_json_is_refused(run_cli) -> None:
    result = run_cli("search", "--query", "{text: 交通", "--json")
    assert result.exit_code == 2 and "query" in result.stderr


def test_corrupt_export_gives_a_clear_error(run_cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage that is not gzip")
    result = run_cli("harvest", "x", str(broken))
    assert result.exit_code != 0
    assert "Traceback" not in result.output + result.stderr
    assert "error:" in result.stderr
