"""A small webhook receiver that checks signatures: what `scenewatch demo` delivers to,
and a reference for consumers writing their own."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from notifier.signing import SignatureError, verify


class VerifyingReceiver:
    """Accepts POSTs on 127.0.0.1, verifies them with ``secret``, keeps each payload
    (deduplicated by webhook-id) and optionally writes it to ``save_dir``."""

    def __init__(self, secret: str = "", save_dir: Path | None = None) -> None:
        self.secret = secret
        self.save_dir = save_dir
        self.received: dict[str, dict[str, Any]] = {}
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/webhook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                msg_id = self.headers.get("webhook-id", "")
                try:
                    verify([receiver.secret], msg_id, self.headers.get("webhook-timestamp", ""), body,
                           self.headers.get("webhook-signature", ""))
                except SignatureError as exc:
                    with receiver._lock:
                        receiver.rejected.append(f"{msg_id}: {exc}")
                    self.send_response(400)
                    self.end_headers()
                    return
                payload = json.loads(body)
                with receiver._lock:
                    receiver.received[msg_id] = payload
                if receiver.save_dir is not None:
                    receiver.save_dir.mkdir(parents=True, exist_ok=True)
                    (receiver.save_dir / f"{msg_id}.json").write_text(
                        json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep the demo's output readable
                pass

        return Handler

    def __enter__(self) -> VerifyingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
