"""What every command shares: the app for the command, JSON output, clear errors."""
from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask


def get_app() -> Flask:
    """The app for the running command, built from the environment on first use."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        from config.app import create_app

        root.obj = create_app()
    return root.obj


def with_app(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside the app context, with the schema up to date."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app = get_app()
        with app.app_context():
            from config.migrate import upgrade

            upgrade()
            return func(*args, **kwargs)

    return wrapper


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
