"""Request hooks every API blueprint runs: Idempotency-Key on POST, ETag on GET.

Idempotency (the IETF httpapi draft's rules): the first POST with a key is recorded
before the view runs, and its response after; a retry with the same key and the same
request gets the recorded response again (``Idempotent-Replayed: true``) instead of
doing the work twice; the same key for a different request is refused (422), and a
retry while the first is still running gets 409. Keys are kept for 24 hours, per
account. A 5xx is not recorded, so the client may retry it.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import Response, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from config.extensions import db
from subscriptions.api.auth import caller
from subscriptions.api.problems import ApiProblem, invalid
from subscriptions.api_tokens import utcnow
from subscriptions.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
REPLAYED_HEADERS = ("Content-Type", "Location")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _check_key(key: str) -> str:
    if not 1 <= len(key) <= 255 or not all(32 < ord(c) < 127 for c in key):
        raise invalid([{"field": HEADER, "message": "must be 1-255 visible ASCII characters (a UUID is ideal)"}])
    return key


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.body, status=record.status or 200)
    for name, value in (record.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def start_idempotent() -> Response | None:
    """before_request: record a keyed POST, or answer a retry from the record."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    key = _check_key(key.strip())
    owner_id, fingerprint, now = caller().user_id, _fingerprint(), utcnow()
    try:
        with db.session() as session:
            session.execute(delete(IdempotencyRecord).where(
                IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.created_at < now - KEEP_FOR))
            record = IdempotencyRecord(owner_id=owner_id, key=key, fingerprint=fingerprint, status=None,
                                       body="", headers={}, created_at=now)
            session.add(record)
            session.flush()
            g.idempotency_record_id = record.id
            return None
    except IntegrityError:
        pass  # the key was used before: look at what it was used for
    with db.session() as session:
        found = session.scalar(select(IdempotencyRecord).where(
            IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key))
        if found is None:  # purged between the two statements: treat as in flight
            raise ApiProblem(409, "a request with this Idempotency-Key is in progress; retry shortly",
                             kind="idempotency-in-progress")
        if found.fingerprint != fingerprint:
            raise invalid([{"field": HEADER, "message": "was already used for a different request"}])
        if found.status is None:
            raise ApiProblem(409, "a request with this Idempotency-Key is in progress; retry shortly",
                             kind="idempotency-in-progress")
        return _replay(found)


def finish_idempotent(response: Response) -> Response:
    """after_request: keep the response of a recorded POST (forget it after a 5xx)."""
    record_id = g.pop("idempotency_record_id", None)
    if record_id is None:
        return response
    with db.session() as session:
        record = session.get(IdempotencyRecord, record_id)
        if record is None:
            return response
        if response.status_code >= 500:
            session.delete(record)
            return response
        record.status = response.status_code
        record.body = response.get_data(as_text=True)
        record.headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    return response


def add_etag(response: Response) -> Response:
    """after_request: an ETag on successful GETs; If-None-Match gets 304 Not Modified."""
    if request.method not in ("GET", "HEAD") or response.status_code != 200 or response.is_streamed:
        return response
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Authorization")
    response.add_etag()
    response.make_conditional(request)  # turns itself into a 304 when If-None-Match matches
    return response
