"""The ``scenewatch`` command: a click group assembling each package's commands."""
from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="scenewatch")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """scenewatch: saved searches ("scenes") over open-data catalogs, with diffs pushed
    by webhook and email.

    Data lives in SCENEWATCH_DATA_DIR (default ./instance). Start with
    `scenewatch init`, `scenewatch harvest`, then `scenewatch serve`.
    """
    from config.cli_support import app_info

    ctx.obj = app_info(ctx.obj)


def _register() -> None:
    from config.commands import register as register_config
    from notifier.channel_cli import register as register_channels
    from notifier.cli import register as register_notifier
    from search.cli import register as register_search
    from subscriptions.cli import register as register_subscriptions
    from subscriptions.token_cli import register as register_tokens

    for register in (register_config, register_search, register_subscriptions, register_notifier,
                     register_channels, register_tokens):
        register(cli)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="scenewatch")
