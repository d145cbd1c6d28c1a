"""The ``scenewatch`` command: a click group assembling each package's commands."""
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="scenewatch")
def cli() -> None:
    """scenewatch: saved searches ("scenes") over open-data catalogs, with diffs pushed
    by webhook and email.

    Data lives in SCENEWATCH_DATA_DIR (default ./instance). Start with
    `scenewatch init`, `scenewatch harvest`, then `scenewatch serve`.
    """


def _register() -> None:
    from config.commands import register as register_config
    from notifier.channel_cli import register as register_channels
    from notifier.cli import register as register_notifier
    from search.cli import register as register_search
    from subscriptions.cli import register as register_subscriptions

    for register in (register_config, register_search, register_subscriptions, register_notifier,
                     register_channels):
        register(cli)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="scenewatch")
