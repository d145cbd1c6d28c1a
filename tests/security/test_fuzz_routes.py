"""Fuzz every route of the app (read from its URL map) and every query parameter:
page numbers, ids, limits, unicode, NUL, long strings. Zero server errors, zero
tracebacks, as the owner and logged out, in production mode."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from config.settings import Settings
from tests.security.conftest import build_app
from tests.security.inventory import arguments, build, form_for, make_world, routes

IDS = ("0", str(2**63 - 1), str(2**63), str(10**40), "-1", "0x10", "١٢")
TEXT = ("%00", "\x00", "交通🙂", "a" * 5000, "../../etc/passwd", "%2e%2e%2f", "<script>'\"",
        "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"), " ", "{}")
VALUES = (*TEXT, "-1", str(2**63), "9" * 400, "1e309", "NaN", "now-99999999d", "2026-13-45")
# Query parameters our pages read, and what a later API is likely to read.
PARAMS = ("q", "page", "sort", "limit", "offset", "per_page", "lang", "next", "edit",
          "modified_from", "modified_to", "min_completeness", "f.region", "f.formats",
          "f.open_type", "f.update_frequency", "x.publisher", "f.", "f.nonsense", "state",
          "selection", "format", "facets", "id", "since", "cursor")


DESTRUCTIVE = ("auth.logout", "account.delete", "scenes.delete")
FORM_FIELDS = ("name", "email", "password", "password2", "current_password", "new_password",
               "new_password2", "confirm_email", "kind", "target", "schedule", "cron", "timezone",
               "locale", "q", "digest_hour", "digest_weekday", "email_cadence", "quiet_start",
               "quiet_end", "tracked_fields", "send_when_empty", "webhook", "overlap_hours",
               "next", "List-Unsubscribe", *PARAMS)


def _fuzz_form(client: FlaskClient, url: str, who: str, failures: list[str]) -> int:
    """Every form field at once with each hostile value (with a valid CSRF token)."""
    token = form_for(client)["csrf_token"]
    for value in VALUES:
        response = client.post(url, data={**dict.fromkeys(FORM_FIELDS, value), "csrf_token": token})
        if problem := _bad(response):
            failures.append(f"{who} POST {url[:120]!r} form={value[:40]!r}: {problem}")
    return len(VALUES)


def _bad(response) -> str | None:  # type: ignore[no-untyped-def]
    body = response.get_data()
    if response.status_code >= 500 or b"Traceback (most recent call last)" in body:
        return f"{response.status_code}"
    return None


def _fuzz(app: Flask, client: FlaskClient, who: str, failures: list[str]) -> int:
    """Every route × argument values × query values; returns how many requests."""
    from tests.security.inventory import World  # noqa: F401

    sent = 0
    world = app.config["FUZZ_WORLD"]
    for rule, method in routes(app):
        # The owner keeps her session, account and scene for the rest of the run.
        destructive = who == "owner" and rule.endpoint in DESTRUCTIVE and method == "POST"
        variants: list[dict[str, str]] = [] if destructive else [{}]
        for conv, name in arguments(rule):
            pool = IDS if conv == "int" else TEXT if conv in ("default", "string", "path") else ()
            variants += [{name: value} for value in pool]
        for override in variants:
            try:
                url = build(rule, world, override=override)
            except KeyError:
                continue
            if method == "POST":
                response = client.post(url, data=form_for(client))
            else:
                response = client.get(url)
            sent += 1
            if problem := _bad(response):
                failures.append(f"{who} {method} {url[:120]!r}: {problem}")
        if method == "POST":
            if not destructive:
                sent += _fuzz_form(client, build(rule, world), who, failures)
            continue
        base = build(rule, world)
        for value in VALUES:  # every parameter at once, then each on its own
            response = client.get(base, query_string=dict.fromkeys(PARAMS, value))
            sent += 1
            if problem := _bad(response):
                failures.append(f"{who} GET {base} all params={value[:40]!r}: {problem}")
        for param in PARAMS if who == "owner" else ():
            for value in ("9" * 400,):  # one at a time: an overflow hidden by another refusal
                response = client.get(base, query_string={param: value})
                sent += 1
                if problem := _bad(response):
                    failures.append(f"{who} GET {base} {param}={value[:40]!r}: {problem}")
    return sent


def test_fuzz_every_route_and_parameter(settings: Settings, tmp_path: Path) -> None:
    app = build_app(settings, production=True)
    with app.app_context():
        world = make_world(app, tmp_path)
        app.config["FUZZ_WORLD"] = world
        failures: list[str] = []
        sent = _fuzz(app, world.alice, "owner", failures)
        sent += _fuzz(app, app.test_client(), "anonymous", failures)
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:60])
    assert sent > 2000
