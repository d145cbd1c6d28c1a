"""Shared pieces of the browser tests: the app served on a free (non-default) port as
`scenewatch serve` would run it, headless Chromium, screenshots, link checks and axe."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "test-artefacts" / "browser"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PHONE: ViewportSize = {"width": 390, "height": 844}


def missing(what: str) -> None:
    """A browser-test prerequisite is absent: skipped on a laptop (the README says how to
    install it), a failure under CI, where `make test` installs it and a skip would hide
    a broken install step."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI installs it through make test)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_app(tmp_path: Path, port: int) -> Iterator[tuple[Any, str]]:
    """The app as `scenewatch serve` builds it for SCENEWATCH_PORT=port (CSRF on, links
    following the port), served on that port; yields (app, base URL)."""
    from config.app import create_app
    from config.migrate import upgrade
    from config.settings import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update(SCENEWATCH_DATA_DIR=str(tmp_path / "instance"), SCENEWATCH_PORT=str(port),
               SCENEWATCH_WEBHOOK_ALLOW_PRIVATE="1", SCENEWATCH_SCHEDULER="0")
    settings = load_settings(env)
    app = create_app(settings, TESTING=True)
    with app.app_context():
        upgrade()
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            assert settings.base_url == f"http://127.0.0.1:{port}"
            yield app, settings.base_url
        finally:
            server.shutdown()
            thread.join(timeout=5)


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing(f"needs {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Shots:
    """Numbered screenshots of one journey under test-artefacts/browser/<name>/."""

    def __init__(self, name: str) -> None:
        self.dir = ARTEFACTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.count = 0

    def take(self, page: Page, what: str) -> Path:
        self.count += 1
        path = self.dir / f"{self.count:02d}-{what}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


class LinkLog:
    """Every page the browser loaded and every same-site link seen on them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.documents: list[tuple[str, int]] = []
        self.links: set[str] = set()

    def watch(self, page: Page) -> None:
        def seen(response: Any) -> None:
            if response.request.resource_type == "document":
                self.documents.append((response.url, response.status))
        page.on("response", seen)

    def collect(self, page: Page) -> None:
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            parts = urlsplit(href)
            if f"{parts.scheme}://{parts.netloc}" == self.base:
                self.links.add(href.split("#", 1)[0])

    def check(self, page: Page) -> list[tuple[str, int]]:
        """Follow every collected link; returns those that did not end in a 2xx."""
        bad = []
        for url in sorted(self.links):
            if "/logout" in url:
                continue
            response = page.request.get(url, max_redirects=5)
            if not 200 <= response.status < 300:
                bad.append((url, response.status))
        return bad


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as loaded."""
    if not AXE.exists():
        missing("axe-core is not installed (bash scripts/fetch-axe)")
    page.add_script_tag(path=str(AXE))
    report = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in report["violations"] if v["impact"] in ("serious", "critical")
    ]


def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0: no sideways scroll)."""
    return int(page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"))


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
