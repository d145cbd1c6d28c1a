"""`scenewatch serve` on a non-default port: the confirmation mail's link, the run
page's download buttons and every link on the pages point at that port and work."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from config.settings import load_settings
from notifier.mailer import list_outbox, read_outbox_message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_confirmation_link_reaches_the_port_serve_listens_on(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
    env.update(SCENEWATCH_DATA_DIR=str(tmp_path / "instance"), SCENEWATCH_PORT=str(port),
               SCENEWATCH_SCHEDULER="0")
    server = subprocess.Popen([str(Path(sys.executable).with_name("scenewatch")), "serve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        web = requests.Session()
        page = web.get(base + "/register").text
        response = web.post(base + "/register", data={
            "csrf_token": _csrf(page), "email": "port@example.org", "password": "long enough pw",
            "password2": "long enough pw", "locale": "en", "timezone": "UTC"}, allow_redirects=False)
        assert response.status_code == 302, response.text[:500]
        page = web.get(base + "/scenes/new?q=x").text
        saved = web.post(base + "/scenes/new", data={
            "csrf_token": _csrf(page), "q": "x", "name": "port test", "schedule": "manual",
            "timezone": "UTC", "email": "port@example.org", "email_cadence": "immediate"})
        assert saved.status_code == 200
        # Every link on the scene page is relative or on this port.
        for href in re.findall(r'href="([^"]+)"', saved.text):
            assert href.startswith(("/", "#", "?")) or href.startswith(base), href
        settings = load_settings({**env})
        (entry,) = list_outbox(settings)
        body = read_outbox_message(settings, entry.key).text
        link = re.search(r"https?://\S+/confirm/\S+", body).group(0)
        assert link.startswith(f"{base}/confirm/")
        asked = web.get(link)
        assert asked.status_code == 200
        confirmed = web.post(link, data={"csrf_token": _csrf(asked.text)})
        assert confirmed.status_code == 200
        page = web.get(base + "/account").text
        assert "port@example.org" in page and "等待确认" not in page and "awaiting" not in page
    finally:
        server.terminate()
        server.wait(timeout=10)
