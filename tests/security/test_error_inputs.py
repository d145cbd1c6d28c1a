"""Hostile input to the web app gives 4xx pages, never a 500 or a traceback."""

from __future__ import annotations

import io
import json
import logging
import threading
import urllib.request
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from config.settings import Settings
from tests.security.conftest import build_app, login, register

HUGE = 2**63  # one past the largest id any database can hold


def test_ids_beyond_64_bits_are_not_found(prod_app: Flask) -> None:
    client = prod_app.test_client()
    register(client, "huge@example.org")
    for path in (f"/scenes/{HUGE}", f"/scenes/{HUGE}/runs/1", f"/scenes/1/runs/{HUGE}",
                 f"/scenes/{10**30}/delete", f"/scenes/{HUGE}/export.csv"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
    for path in (f"/scenes/{HUGE}/run", f"/scenes/{HUGE}/pause",
                 f"/scenes/1/channels/{HUGE}/test", f"/scenes/1/runs/1/notifications/{HUGE}/redeliver"):
        assert client.post(path).status_code in (400, 404), path
    # The largest 64-bit id is still a valid id (nothing there: 404).
    assert client.get(f"/scenes/{HUGE - 1}").status_code == 404


def test_a_line_break_in_next_gives_a_safe_redirect(prod_app: Flask) -> None:
    client = prod_app.test_client()
    register(client, "next@example.org")
    client.post("/logout")
    for target in ("/scenes\r\nSet-Cookie: evil=1", "/scenes%0d%0a", "/scenes\nX: y", "/\x00",
                   "/scenes\x7f"):
        fresh = prod_app.test_client()
        response = login(fresh, "next@example.org", query_string={"next": target})
        assert response.status_code == 302, (target, response.status_code)
        location = response.headers["Location"]
        assert "\r" not in location and "\n" not in location and "evil" not in response.headers
        assert location.startswith("/")


def test_unhandled_errors_are_logged_as_json_in_production(settings: Settings) -> None:
    application = build_app(settings, production=True)

    @application.get("/boom-for-test")
    def boom() -> str:
        raise RuntimeError("kaput 42")

    handler = logging.getLogger("scenewatch").handlers[0]
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        response = application.test_client().get("/boom-for-test")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "kaput" not in body
    entries = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    crash = [e for e in entries if "boom-for-test" in e["message"]]
    assert crash and crash[0]["level"] == "error"
    assert "RuntimeError: kaput 42" in crash[0]["exc"]


def test_no_server_version_banner(dev_app: Flask, tmp_path: Path) -> None:
    from config.serving import QuietRequestHandler

    server = make_server("127.0.0.1", 0, dev_app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz") as reply:
            banner = reply.headers.get("Server", "")
    finally:
        server.shutdown()
    assert "Werkzeug" not in banner and "Python" not in banner and not any(c.isdigit() for c in banner)
