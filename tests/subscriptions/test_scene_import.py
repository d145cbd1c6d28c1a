"""`scenewatch scenes import FILE`: JSON Lines, each line validated like `scenes create`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from config.cli import cli
from tests.helpers import sample_file


@pytest.fixture
def run_cli(tmp_path: Path):
    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False, input=input)

    return invoke


LINES = [
    {"name": "交通", "query": {"text": "交通"}, "schedule": "on-change"},
    {"name": "教育 csv", "query": {"text": "教育", "filters": {"formats": ["csv"]}}, "schedule": "daily",
     "email": "reader@example.org", "webhook": "http://127.0.0.1:9/hook", "tracked_fields": ["title", "modified"]},
    "{not json",
    {"name": "bad query", "query": {"filters": {"regoin": ["杭州市"]}}, "schedule": "daily"},
    {"name": "no schedule", "query": {}},
    {"name": "bad schedule", "query": {}, "schedule": "every tuesday", "colour": "red"},
    [1, 2],
    "",
    {"name": "交通", "query": {"text": "交通"}, "schedule": "on-change"},
    {"name": "bad track", "query": {}, "schedule": "daily", "tracked_fields": ["nonsense"]},
]


def _write(path: Path) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in LINES)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_import_saves_good_lines_with_baselines_and_reports_bad_ones(run_cli, tmp_path: Path) -> None:
    assert run_cli("harvest", "sample", str(sample_file()), "--json").exit_code == 0
    result = run_cli("scenes", "import", str(_write(tmp_path / "scenes.jsonl")), "--json", "--no-progress")
    assert result.exit_code == 1  # some lines were bad
    report = json.loads(result.output[: result.output.rindex("}") + 1])
    assert [(e["line"], e["name"]) for e in report["imported"]] == [(1, "交通"), (2, "教育 csv")]
    assert all(e["baseline"] == "taken" for e in report["imported"])
    assert report["imported"][1]["webhook_secret"].startswith("whsec_")
    assert [(s["line"], s["name"]) for s in report["skipped"]] == [(9, "交通")]
    problems = {(e["line"], e["field"]) for e in report["errors"]}
    assert problems == {(3, "line"), (4, "query.filters.regoin"), (5, "schedule"), (6, "colour"),
                        (6, "schedule"), (7, "line"), (10, "tracked_fields")}

    listed = json.loads(run_cli("scenes", "list", "--json").output)
    assert [(s["name"], s["schedule"], s["last_run"]["state"]) for s in listed] == [
        ("交通", "on-change", "baseline"), ("教育 csv", "daily", "baseline")]
    assert listed[0]["last_run"]["matched"] > 0

    # Importing the same file again doubles nothing.
    again = json.loads(run_cli("scenes", "import", str(tmp_path / "scenes.jsonl"), "--json", "--no-progress")
                       .output.split("\nerror")[0])
    assert again["imported"] == [] and len(again["skipped"]) == 3


def test_import_for_another_owner_and_from_stdin(run_cli, app) -> None:
    from config.extensions import db
    from subscriptions.accounts import register_user
    from subscriptions.models import Scene

    with db.session() as session:
        register_user(session, "other@example.org", "a long password 123")
    line = json.dumps({"name": "mine", "query": {}, "schedule": "manual"}) + "\n"
    result = run_cli("scenes", "import", "-", "--owner", "other@example.org", "--json", "--no-progress",
                     input=line)
    assert result.exit_code == 0, result.output
    missing = run_cli("scenes", "import", "-", "--owner", "nobody@example.org", "--json", input=line)
    assert missing.exit_code == 2 and "owner" in missing.output
    with db.session() as session:
        owners = [s.owner.email for s in session.scalars(select(Scene))]
    assert owners == ["other@example.org"]


def test_import_refuses_a_file_that_is_not_text(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "binary.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage")
    result = run_cli("scenes", "import", str(path), "--json")
    assert result.exit_code == 2 and "UTF-8" in result.output
