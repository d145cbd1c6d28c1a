"""Webhook channel: one signed JSON POST per attempt (Standard Webhooks headers).

Redirects are not followed (a 3xx is a failure), the receiver's body is never read
or stored, and the connection refuses private peers unless configured otherwise.
"""
from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from importlib import metadata
from urllib.parse import SplitResult, urlsplit

from config.settings import Settings
from notifier.channels.base import BaseChannel, DeliveryError, EndpointGone, Outgoing, SendResult
from notifier.signing import SignatureError, signature_header
from notifier.ssrf import WebhookTargetError, batch_resolver, check_webhook_url, guarded_connection

# A receiver asking us to wait longer than a day is treated as asking for a day.
MAX_RETRY_AFTER = 24 * 3600
# 408 is the receiver's own timeout: as retryable as ours.
RETRYABLE_4XX = frozenset({408, 429})
# A reply body up to this size is read and thrown away so the connection can be
# reused; a larger one closes the connection. It is never stored or logged.
DRAIN_LIMIT = 64 * 1024

_local = threading.local()


def _connection(parts: SplitResult, allow_private: bool, timeout: float) -> http.client.HTTPConnection:
    """This thread's kept-alive connection to the target's host (the peer check runs
    on every new connection; one that the receiver has dropped is reopened)."""
    conns: dict[tuple[str, str, int | None, bool], http.client.HTTPConnection] = \
        _local.__dict__.setdefault("connections", {})
    key = (parts.scheme, parts.hostname or "", parts.port, allow_private)
    conn = conns.get(key)
    if conn is not None and (conn.sock is None or conn.timeout != timeout or _dropped(conn.sock)):
        conn.close()
        conn = None
    if conn is None:
        conn = guarded_connection(parts.scheme, parts.hostname or "", parts.port, allow_private, timeout)
        conns[key] = conn
    return conn


def _dropped(sock: socket.socket) -> bool:
    """True when an idle kept-alive socket has been closed by the peer (or has stray bytes)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _release(conn: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
    """Discard a small reply body so the connection can be reused; close it otherwise.
    The body is never kept."""
    length = response.length
    try:
        if response.will_close or length is None or length > DRAIN_LIMIT:
            conn.close()
            return
        response.read(length)
        if not response.isclosed():
            conn.close()
    except Exception:  # noqa: BLE001 - the attempt's outcome is already known
        conn.close()


@lru_cache(maxsize=1024)
def _split(target: str) -> SplitResult:
    return urlsplit(target)


def _request_path(parts: SplitResult) -> str:
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


@lru_cache(maxsize=1)
def user_agent() -> str:
    """``scenewatch/<version>`` from the installed package metadata."""
    try:
        version = metadata.version("scenewatch")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"scenewatch/{version}"


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_body(outgoing: Outgoing) -> bytes:
    """The exact bytes POSTed: ``{"type", "timestamp", "data"}``.

    ``timestamp`` is when the notification was created, so every attempt carries
    the same body; only the webhook-timestamp header changes between attempts.
    """
    envelope = {"type": outgoing.event_type, "timestamp": iso_utc(outgoing.created_at),
                "data": outgoing.payload}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def build_headers(outgoing: Outgoing, body: bytes, timestamp: int) -> dict[str, str]:
    """The request headers, signatures included, for one attempt at ``timestamp``."""
    if not outgoing.secrets:
        raise DeliveryError("webhook channel has no signing secret", retryable=False)
    try:
        signature = signature_header(outgoing.secrets, outgoing.message_id, timestamp, body)
    except SignatureError as exc:
        raise DeliveryError(f"cannot sign: {exc}", retryable=False) from exc
    return {
        "content-type": "application/json",
        "user-agent": user_agent(),
        "webhook-id": outgoing.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped at a day."""
    if not value or not value.strip():
        return None
    raw = value.strip()
    if raw.isdigit():
        seconds = float(raw)
    else:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), float(MAX_RETRY_AFTER))


def classify_response(status: int, retry_after: str | None, latency_ms: int) -> SendResult:
    """Map a status code to success or the right DeliveryError."""
    if 200 <= status < 300:
        return SendResult(status_code=status, latency_ms=latency_ms)
    if status == 410:
        raise EndpointGone(latency_ms=latency_ms)
    if 300 <= status < 400:
        raise DeliveryError(f"receiver answered {status} (redirect); redirects are not followed, "
                            "point the webhook at the final URL", retryable=False,
                            status_code=status, latency_ms=latency_ms)
    if status in RETRYABLE_4XX or status >= 500:
        wait = parse_retry_after(retry_after)
        hint = f", asked to retry after {int(wait)} s" if wait is not None else ""
        raise DeliveryError(f"receiver answered {status}{hint}", retryable=True, status_code=status,
                            retry_after=wait, latency_ms=latency_ms)
    raise DeliveryError(f"receiver answered {status}; not retried", retryable=False,
                        status_code=status, latency_ms=latency_ms)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class WebhookChannel(BaseChannel):
    kind = "webhook"

    def send(self, outgoing: Outgoing, settings: Settings) -> SendResult:
        # Checked again at send time: the name may resolve elsewhere than at creation.
        try:
            check_webhook_url(outgoing.target, allow_private=settings.webhook_allow_private,
                              resolve=batch_resolver())
        except WebhookTargetError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable) from exc
        body = build_body(outgoing)
        headers = build_headers(outgoing, body, int(time.time()))
        host = _split(outgoing.target).hostname or outgoing.target
        timeout = settings.webhook_timeout
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        parts = _split(outgoing.target)
        try:
            conn = _connection(parts, settings.webhook_allow_private, timeout)
            # Redirects are never followed: http.client hands back the 3xx as it is.
            conn.request("POST", _request_path(parts), body=body, headers=headers)
            response = conn.getresponse()
        except WebhookTargetError as exc:
            _close_quietly(outgoing.target, settings.webhook_allow_private)
            raise DeliveryError(str(exc), retryable=exc.retryable, latency_ms=elapsed()) from exc
        except TimeoutError as exc:
            _close_quietly(outgoing.target, settings.webhook_allow_private)
            raise DeliveryError(f"no answer from {host} within {timeout} s", retryable=True,
                                latency_ms=elapsed()) from exc
        except (OSError, http.client.HTTPException) as exc:
            _close_quietly(outgoing.target, settings.webhook_allow_private)
            raise DeliveryError(f"could not connect to {host}: {_short(exc)}", retryable=True,
                                latency_ms=elapsed()) from exc
        except ValueError as exc:
            _close_quietly(outgoing.target, settings.webhook_allow_private)
            raise DeliveryError(f"request to {host} failed: {_short(exc)}", retryable=False,
                                latency_ms=elapsed()) from exc
        try:
            return classify_response(response.status, response.getheader("retry-after"), elapsed())
        finally:
            _release(conn, response)


def _close_quietly(target: str, allow_private: bool) -> None:
    """Drop this thread's connection to ``target`` after a failed request."""
    parts = _split(target)
    conns = _local.__dict__.get("connections", {})
    conn = conns.pop((parts.scheme, parts.hostname or "", parts.port, allow_private), None)
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass
