"""Fixtures for source tests: the CLI as a user runs it, on a fresh data dir."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from config.cli import cli


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> Callable[..., Result]:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=cli_env, catch_exceptions=False)

    return invoke


@pytest.fixture
def run_json(run_cli: Callable[..., Result]) -> Callable[..., Any]:
    """Run a command with --json; returns (exit code, parsed stdout)."""
    def invoke(*args: str) -> tuple[int, Any]:
        result = run_cli(*args, "--json")
        assert "Traceback" not in result.output
        return result.exit_code, json.loads(result.stdout)

    return invoke
