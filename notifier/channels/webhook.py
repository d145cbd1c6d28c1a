"""Webhook channel: one signed JSON POST per attempt (Standard Webhooks headers).

Redirects are not followed (a 3xx is a failure), the receiver's body is never read
or stored, and the connection refuses private peers unless configured otherwise.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from importlib import metadata
from urllib.parse import urlsplit

import requests

from config.settings import Settings
from notifier.channels.base import BaseChannel, DeliveryError, EndpointGone, Outgoing, SendResult
from notifier.signing import SignatureError, signature_header
from notifier.ssrf import WebhookTargetError, check_webhook_url, guarded_session

# A receiver asking us to wait longer than a day is treated as asking for a day.
MAX_RETRY_AFTER = 24 * 3600
# 408 is the receiver's own timeout: as retryable as ours.
RETRYABLE_4XX = frozenset({408, 429})
# A reply body up to this size is read and thrown away so the connection can be
# reused; a larger one closes the connection. It is never stored or logged.
DRAIN_LIMIT = 64 * 1024

_local = threading.local()


def http_session(allow_private: bool) -> requests.Session:
    """This thread's guarded session (kept so connections to a receiver are reused;
    the peer check runs on every new connection)."""
    sessions: dict[bool, requests.Session] = _local.__dict__.setdefault("sessions", {})
    if allow_private not in sessions:
        sessions[allow_private] = guarded_session(allow_private)
    return sessions[allow_private]


def _drain(response: requests.Response) -> None:
    """Discard a small reply body so its connection goes back to the pool."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= DRAIN_LIMIT:
        try:
            response.raw.read(int(length), decode_content=False)
        except Exception:  # noqa: BLE001 - the attempt's outcome is already known
            pass


@lru_cache(maxsize=1)
def user_agent() -> str:
    """``scenewatch/<version>`` from the installed package metadata."""
    try:
        version = metadata.version("scenewatch")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"scenewatch/{version}"


def iso_utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


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
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
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

    def validate_target(self, target: str, settings: Settings) -> str:
        url = (target or "").strip()
        check_webhook_url(url, allow_private=settings.webhook_allow_private)
        return url

    def send(self, outgoing: Outgoing, settings: Settings) -> SendResult:
        # Checked again at send time: the name may resolve elsewhere than at creation.
        try:
            check_webhook_url(outgoing.target, allow_private=settings.webhook_allow_private)
        except WebhookTargetError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable) from exc
        body = build_body(outgoing)
        headers = build_headers(outgoing, body, int(time.time()))
        host = urlsplit(outgoing.target).hostname or outgoing.target
        timeout = settings.webhook_timeout
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        session = http_session(settings.webhook_allow_private)
        try:
            # stream=True: the status line and headers are all we look at.
            response = session.post(outgoing.target, data=body, headers=headers, timeout=timeout,
                                    allow_redirects=False, stream=True)
        except WebhookTargetError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable, latency_ms=elapsed()) from exc
        except requests.Timeout as exc:
            raise DeliveryError(f"no answer from {host} within {timeout} s", retryable=True,
                                latency_ms=elapsed()) from exc
        except requests.ConnectionError as exc:
            raise DeliveryError(f"could not connect to {host}: {_short(exc)}", retryable=True,
                                latency_ms=elapsed()) from exc
        except requests.RequestException as exc:
            raise DeliveryError(f"request to {host} failed: {_short(exc)}", retryable=False,
                                latency_ms=elapsed()) from exc
        try:
            return classify_response(response.status_code, response.headers.get("retry-after"), elapsed())
        finally:
            _drain(response)
            response.close()

