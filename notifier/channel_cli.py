"""Operator commands for channels: list, pause, resume, set-digest, set-quiet,
rotate-secret and test. Wired in by ``register(group)``."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click

from config.cli_support import emit, fail, json_option, with_app


@click.group("channels")
def channels_group() -> None:
    """Email addresses and webhook endpoints that scenes deliver to."""


def _change(channel_id: int, as_json: bool, action: Callable[[Any, Any], Any]) -> None:
    """Load the channel, apply ``action(session, channel)``, print the channel."""
    from config.extensions import db
    from notifier.channel_admin import channel_info, load_channel

    try:
        with db.session() as session:
            channel = load_channel(session, channel_id)
            extra = action(session, channel)
            data = channel_info(channel)
            if isinstance(extra, dict):
                data.update(extra)
    except (LookupError, ValueError) as exc:
        fail(str(exc), as_json, code=2)
        return
    emit(data, as_json, _human)


def _human(d: dict[str, Any]) -> None:
    state = "paused" if d["paused"] else ("disabled: " + d["disabled_reason"] if d["disabled_reason"] else "active")
    line = f"{d['id']:>5}  {d['kind']:<7} {d['target']}  {state}"
    if d["kind"] == "email":
        when = f"{d['digest_hour']:02d}:00" if d["digest_hour"] is not None else "08:00"
        line += f"  {d['cadence']}" + (f" at {when}" if d["cadence"] != "immediate" else "")
        if d["cadence"] == "weekly":
            line += f" on {d['digest_weekday'] or 'mon'}"
    if d["quiet_start"]:
        line += f"  quiet {d['quiet_start']}-{d['quiet_end']}"
    click.echo(line)
    if d.get("new_secret"):
        click.echo(f"  new secret (store it now): {d['new_secret']}")
        click.echo(f"  the old secret keeps signing until {d['rotating_until']}")
    if d.get("released") is not None:
        click.echo(f"  {d['released']} held notification(s) released")


@channels_group.command("list")
@click.option("--kind", type=click.Choice(["email", "webhook"]), default=None)
@json_option
@with_app
def list_command(kind: str | None, as_json: bool) -> None:
    """List channels with their state, digest time and quiet hours."""
    from config.extensions import db
    from notifier.channel_admin import channel_info, list_channels

    with db.session() as session:
        rows = [channel_info(c) for c in list_channels(session, kind)]

    def human(items: list[dict[str, Any]]) -> None:
        for item in items:
            _human(item)
        if not items:
            click.echo("no channels")

    emit(rows, as_json, human)


@channels_group.command("pause")
@click.argument("channel_id", type=int)
@json_option
@with_app
def pause_command(channel_id: int, as_json: bool) -> None:
    """Mute a channel: notifications are held until it is resumed."""
    from notifier.channel_admin import pause

    _change(channel_id, as_json, lambda session, channel: pause(channel))


@channels_group.command("resume")
@click.argument("channel_id", type=int)
@json_option
@with_app
def resume_command(channel_id: int, as_json: bool) -> None:
    """Unmute a channel; what was held is sent by the next delivery tick (or `deliveries flush`)."""
    from notifier.channel_admin import resume

    _change(channel_id, as_json, lambda session, channel: {"released": resume(session, channel)})


@channels_group.command("set-digest")
@click.argument("channel_id", type=int)
@click.option("--hour", type=click.IntRange(0, 23), default=None, help="Local hour (0-23; default 8).")
@click.option("--weekday", default=None, help="Weekly digests: 0-6 or mon…sun (default mon).")
@click.option("--cadence", type=click.Choice(["immediate", "daily", "weekly"]), default=None)
@json_option
@with_app
def set_digest_command(channel_id: int, hour: int | None, weekday: str | None, cadence: str | None,
                       as_json: bool) -> None:
    """Set when an email channel's digest goes out, in the owner's time zone."""
    from notifier.channel_admin import set_digest

    _change(channel_id, as_json, lambda session, channel: set_digest(channel, hour, weekday, cadence))


@channels_group.command("set-quiet")
@click.argument("channel_id", type=int)
@click.option("--start", default=None, help="HH:MM local time quiet hours begin.")
@click.option("--end", default=None, help="HH:MM local time they end (may be past midnight).")
@click.option("--clear", is_flag=True, help="Remove the quiet hours.")
@json_option
@with_app
def set_quiet_command(channel_id: int, start: str | None, end: str | None, clear: bool, as_json: bool) -> None:
    """Hold deliveries during quiet hours; they are sent when the window ends."""
    from notifier.channel_admin import set_quiet

    if clear:
        start = end = None
    elif start is None and end is None:
        fail("give --start and --end, or --clear", as_json, code=2)
        return
    _change(channel_id, as_json, lambda session, channel: set_quiet(channel, start, end))


@channels_group.command("rotate-secret")
@click.argument("channel_id", type=int)
@click.option("--overlap-hours", type=click.IntRange(0, 24 * 30), default=24, show_default=True,
              help="How long the old secret keeps signing (two signatures per message).")
@json_option
@with_app
def rotate_secret_command(channel_id: int, overlap_hours: int, as_json: bool) -> None:
    """Give a webhook a new signing secret; prints it once."""
    from notifier.channel_admin import rotate

    _change(channel_id, as_json,
            lambda session, channel: {"new_secret": rotate(channel, timedelta(hours=overlap_hours))})


@channels_group.command("test")
@click.argument("channel_id", type=int)
@json_option
@with_app
def test_command(channel_id: int, as_json: bool) -> None:
    """Send a signed test event ({"type": "test.ping"}) to a webhook and show the answer."""
    from config.app import current_settings
    from config.extensions import db
    from notifier.channel_admin import load_channel, send_test

    try:
        with db.session() as session:
            outcome = send_test(load_channel(session, channel_id), current_settings())
    except (LookupError, ValueError) as exc:
        fail(str(exc), as_json, code=2)
        return
    data = {"channel": channel_id, "ok": outcome.ok, "status_code": outcome.status_code,
            "latency_ms": outcome.latency_ms, "error": outcome.error, "webhook_id": outcome.message_id}
    if not outcome.ok:
        fail(f"test event failed: {outcome.error}", as_json, code=1, **data)
        return
    emit(data, as_json, lambda d: click.echo(
        f"test event {d['webhook_id']} delivered: {d['status_code']} in {d['latency_ms']} ms"))


def register(group: click.Group) -> None:
    """Add the ``channels`` group to the ``scenewatch`` group."""
    group.add_command(channels_group)
