"""A real webhook receiver on 127.0.0.1 for the delivery tests and the bench.

It verifies every request with the ``standardwebhooks`` package, records what came
(webhook-id, a hash of the body, whether the signature verified, when), and answers
from a script (e.g. 500, 500, 500, then 200 for ever). It runs in a thread of the
test, or as a process of its own (``python -m tests.delivery.receiver_server``) that
appends one JSON line per request to a log file, so a test can kill workers while
the receiver keeps counting.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from standardwebhooks import Webhook


class RecordingReceiver(ThreadingHTTPServer):
    """An HTTP/1.1 server that records and verifies webhook POSTs."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, secrets: Sequence[str] = (), script: Sequence[int] = (), delay: float = 0.0,
                 log_path: Path | None = None, port: int = 0) -> None:
        self.secrets = list(secrets)
        self._verifiers: dict[str, Webhook] = {}
        self.script = list(script)  # status codes answered in order, then 200
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._log: IO[str] | None = open(log_path, "a", encoding="utf-8") if log_path else None
        super().__init__(("127.0.0.1", port), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        """True when any configured secret verifies the request."""
        for secret in self.secrets:
            verifier = self._verifiers.get(secret)
            if verifier is None:  # built once per secret: verification stays per request
                verifier = self._verifiers[secret] = Webhook(secret)
            try:
                verifier.verify(body, headers)
                return True
            except Exception:  # noqa: BLE001 - the library raises several error types
                continue
        return False

    def record(self, body: bytes, headers: dict[str, str]) -> int:
        """Keep one request; returns the status code to answer."""
        entry = {
            "id": headers.get("webhook-id", ""), "timestamp": headers.get("webhook-timestamp", ""),
            "signature": headers.get("webhook-signature", ""),
            "sha256": hashlib.sha256(body).hexdigest(), "verified": self.verify(body, headers),
            "received_at": time.time(), "body": body.decode("utf-8", "replace"),
        }
        with self.lock:
            status = self.script.pop(0) if self.script else 200
            entry["status"] = status
            self.requests.append(entry)
            if self._log is not None:
                self._log.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._log.flush()
        return status

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Senders that hang up after the status line are normal; stay quiet about them."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def start(self) -> RecordingReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> RecordingReceiver:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would
    # Headers and body go out in two writes; without this the body waits for the
    # client's delayed ACK (~40 ms per request on a kept-alive connection).
    disable_nagle_algorithm = True
    server: RecordingReceiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.server.record(body, headers)
        if self.server.delay:
            time.sleep(self.server.delay)
        reply = b'{"note": "receiver body that must never be stored"}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


def read_log(path: Path) -> list[dict[str, Any]]:
    """The requests a receiver process has logged so far."""
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written
            break
    return entries


def main(argv: Sequence[str] | None = None) -> None:
    """Run a receiver process until killed; writes its port to ``--port-file``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args(argv)
    server = RecordingReceiver(args.secret, delay=args.delay, log_path=args.log)
    args.port_file.write_text(str(server.server_address[1]))
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
