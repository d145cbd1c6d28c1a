"""The README's webhook consumer guide as a script, against the app served over real
HTTP: only ``requests``, ``standardwebhooks`` and the standard library on the consumer's
side. Create a scene with a webhook, run it, harvest a change, list the runs, fetch the
diff, redeliver the notification, and verify both deliveries."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from standardwebhooks import Webhook

from tests.api.conftest import harvest_sample, issue_token, new_account


class Inbox(ThreadingHTTPServer):
    """The consumer's endpoint: keeps every POST (headers and raw body), answers 204."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/scenewatch"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def consumer_script(api: str, token: str, admin_token: str, publish_change: Any, inbox: Inbox) -> dict[str, Any]:
    """What a pipeline does, following the README step by step."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    # 1. A scene with a webhook; the secret is in this response only.
    created = session.post(f"{api}/scenes", timeout=30, headers={"Idempotency-Key": "guide-scene-1"},
                           json={"name": "Hangzhou, everything", "query": {}, "webhook": inbox.url})
    assert created.status_code == 201, created.text
    scene = created.json()
    secret = next(c["secret"] for c in scene["channels"] if c["kind"] == "webhook")

    # 2. Run it: the starting point (nothing sent: nothing changed yet).
    first = session.post(f"{api}/scenes/{scene['id']}/runs", timeout=60)
    assert first.status_code == 201, first.text
    assert first.json()["state"] in ("baseline", "noop") and not inbox.received

    # 3. The portal publishes a change; an administrator harvests it now.
    publish_change()
    harvested = requests.post(f"{api}/sources/hz/harvests", json={}, timeout=120,
                              headers={"Authorization": f"Bearer {admin_token}"})
    assert harvested.status_code == 201, harvested.text

    # 4. Run again: the diff is delivered to the webhook before the call returns.
    second = session.post(f"{api}/scenes/{scene['id']}/runs", timeout=60).json()
    assert second["state"] == "changed", second

    # 5. List the runs (cursor paged) and fetch the diff document of the last one.
    runs = session.get(f"{api}/scenes/{scene['id']}/runs", params={"limit": 1}, timeout=30).json()
    assert runs["items"][0]["id"] == second["id"]
    older = session.get(f"{api}/scenes/{scene['id']}/runs",
                        params={"limit": 1, "cursor": runs["next_cursor"]}, timeout=30).json()
    assert older["items"][0]["id"] == first.json()["id"]
    run = session.get(f"{api}/scenes/{scene['id']}/runs/{second['id']}", timeout=30).json()

    # 6. Redeliver the notification (as after missing it), then check the delivery log.
    notes = session.get(f"{api}/notifications", params={"run_id": second["id"]}, timeout=30).json()["items"]
    assert len(notes) == 1 and notes[0]["state"] == "sent"
    again = session.post(f"{api}/notifications/{notes[0]['id']}/redeliver", timeout=60)
    assert again.status_code == 200 and again.json()["state"] == "sent", again.text
    log = session.get(f"{api}/notifications/{notes[0]['id']}/deliveries", timeout=30).json()["items"]

    # 7. Verify both deliveries as the README shows, and dedupe on webhook-id.
    verifier = Webhook(secret)
    events, seen = [], set()
    for headers, body in inbox.received:
        event = verifier.verify(body, {name: headers[name]
                                       for name in ("webhook-id", "webhook-timestamp", "webhook-signature")})
        events.append(event)
        seen.add(headers["webhook-id"])
    return {"run": run, "events": events, "ids": seen, "log": log, "note": notes[0],
            "bodies": [body for _, body in inbox.received]}


def test_the_consumer_guide_works_end_to_end(app, served, tmp_path: Path) -> None:
    from tests.helpers import sample_records, write_snapshot

    records = harvest_sample(tmp_path, 40)
    token = issue_token(new_account("pipeline@example.org"), "write")
    admin_token = issue_token(new_account("ops@example.org", admin=True), "admin")

    def publish_change() -> None:  # one dataset retitled, one gone, two new
        changed = [dict(r) for r in records[1:]] + sample_records()[40:42]
        changed[0]["资源名称"] = changed[0]["资源名称"] + "（2026 版）"
        write_snapshot(tmp_path / "snapshot.json", changed)

    inbox = Inbox()
    threading.Thread(target=inbox.serve_forever, daemon=True).start()
    try:
        result = consumer_script(f"{served}/api/v1", token, admin_token, publish_change, inbox)
    finally:
        inbox.shutdown()
    diff = result["run"]["diff"]
    assert diff["counts"]["added"] == 2 and diff["counts"]["removed"] == 1 and diff["counts"]["changed"] == 1
    assert [c["field"] for c in diff["changed"][0]["changes"]] == ["title"]
    # Two deliveries of one notification: both verified, one webhook-id, identical bodies.
    assert len(result["events"]) == 2 and result["ids"] == {result["note"]["message_id"]}
    assert result["bodies"][0] == result["bodies"][1]
    assert all(e["type"] == "scene.changed" and e["data"] == diff for e in result["events"])
    assert [d["ok"] for d in result["log"]] == [True, True]
    assert set(result["run"]["downloads"]) == {"all", "added", "changed"}
    assert json.loads(result["bodies"][0])["data"]["run"]["id"] == result["run"]["id"]
