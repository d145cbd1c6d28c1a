"""Service-level commands: init, serve, scheduler, demo."""
from __future__ import annotations

import logging

import click

from config.cli_support import emit, get_app, json_option, with_app
from config.settings import Settings
from config.startup import refuse_unsafe_start


@click.command("init")
@json_option
@with_app
def init_command(as_json: bool) -> None:
    """Create the data dir, the database schema and the search index."""
    from config.app import current_settings
    from config.extensions import search

    settings = current_settings()
    data = {
        "data_dir": str(settings.data_dir),
        "database": settings.database_url,
        "search": _search_location(settings),
        "datasets_indexed": search.get().count(),
    }
    emit(data, as_json, lambda d: click.echo(
        f"scenewatch is ready in {d['data_dir']}\n  database: {d['database']}\n  search:   {d['search']}"
        f" ({d['datasets_indexed']} datasets indexed)"))


def _search_location(settings: Settings) -> str:
    """Where the search index lives, for people."""
    if settings.search_backend == "elasticsearch":
        return settings.search_url
    if settings.search_backend == "postgres":
        return "PostgreSQL (the catalog database)"
    return settings.search_database_url


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default SCENEWATCH_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default SCENEWATCH_PORT, 8000).")
@click.option("--no-clock", is_flag=True, help="Do not run the scheduler in this process.")
@with_app
def serve_command(host: str | None, port: int | None, no_clock: bool) -> None:
    """Serve the web form and run the clock (scenes and deliveries) in-process."""
    import dataclasses

    from config.app import current_settings
    from config.extensions import settings as bound_settings
    from config.settings import listening_url
    from subscriptions.clock import build_clock

    app = get_app()
    settings = current_settings()
    host = host or settings.host
    port = port or settings.port
    if (host, port) != (settings.host, settings.port):
        # --host/--port move the public URL too, unless SCENEWATCH_BASE_URL pins it.
        settings = dataclasses.replace(
            settings, host=host, port=port,
            base_url=settings.base_url if settings.base_url_set else listening_url(host, port))
        app.config["SCENEWATCH"] = settings
        bound_settings.value = settings
    refuse_unsafe_start(settings, "web")
    clock = None
    if settings.scheduler_enabled and not no_clock:
        clock = build_clock(app)
        clock.start()
    click.echo(f"scenewatch serving on {listening_url(host, port)}  (data: {settings.data_dir})")
    if settings.base_url != listening_url(host, port):
        click.echo(f"  links in mail and webhooks use SCENEWATCH_BASE_URL={settings.base_url}")
    try:
        from werkzeug.serving import run_simple

        from config.serving import QuietRequestHandler

        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False,
                   request_handler=QuietRequestHandler)
    finally:
        if clock is not None:
            clock.shutdown(wait=False)


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the clock alone (production: exactly one such process; work goes to Celery)."""
    from config.settings import load_settings

    settings = load_settings()
    refuse_unsafe_start(settings, "scheduler")  # before touching the database
    _run_clock()


@with_app
def _run_clock() -> None:
    from config.app import current_settings
    from config.logging import configure_process_logging
    from subscriptions.clock import build_clock

    settings = current_settings()
    configure_process_logging(settings)
    logging.getLogger("scenewatch.scheduler").info("scheduler running")
    if not settings.production:
        click.echo("scenewatch scheduler running (Ctrl-C to stop)")
    build_clock(get_app(), blocking=True).start()


def register(group: click.Group) -> None:
    """Add these commands to the ``scenewatch`` group."""
    from subscriptions.demo import demo_command

    for command in (init_command, serve_command, scheduler_command, demo_command):
        group.add_command(command)
