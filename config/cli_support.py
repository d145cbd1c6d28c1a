"""What every command shares: the app for the command, JSON output, clear errors."""
from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo, with_appcontext


def app_info(given: object) -> ScriptInfo:
    """Where Flask's CLI helpers load the app from: an app the caller handed in as the
    context object (tests, embedding code), else one built from the environment."""
    if isinstance(given, ScriptInfo):
        return given
    if isinstance(given, Flask):
        return ScriptInfo(create_app=lambda: given, set_debug_flag=False)
    from config.app import create_app

    return ScriptInfo(create_app=create_app, set_debug_flag=False)


def get_app() -> Flask:
    """The app for the running command, built on first use."""
    return click.get_current_context().ensure_object(ScriptInfo).load_app()


def with_app(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside the app context (Flask's ``with_appcontext``), with the
    schema up to date."""

    @with_appcontext
    @functools.wraps(func)
    def migrated(*args: Any, **kwargs: Any) -> Any:
        from config.migrate import upgrade

        upgrade()
        return func(*args, **kwargs)

    return migrated


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON, or through ``human`` for people."""
    if as_json or human is None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        human(data)


def fail(message: str, as_json: bool = False, code: int = 1, **details: Any) -> None:
    """Stop with a clear message (and a JSON error object with --json); never a traceback."""
    if as_json:
        click.echo(json.dumps({"error": {"message": message, **details}}, ensure_ascii=False, indent=2))
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
