"""Bulk writes to Elasticsearch that never drop a document silently.

Each action's outcome is read from the bulk response: written, or failed with the
server's reason. Items the server turned away for load (HTTP 429,
``es_rejected_execution_exception``) are sent again after an exponential backoff with
jitter; a whole request answered 429 or 5xx is retried the same way, and a request too
large for the server (413) is split in two.
"""
from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

MAX_ACTIONS = 500
MAX_BYTES = 5 * 1024 * 1024
MAX_ATTEMPTS = 6
BASE_DELAY = 0.5
MAX_DELAY = 30.0


@dataclass(frozen=True)
class Action:
    """One bulk action: ``op`` is index, create (only if absent) or delete; ``source``
    for index and create."""

    op: str
    index: str
    id: str
    source: dict[str, Any] | None = None

    def lines(self) -> list[dict[str, Any]]:
        head = {self.op: {"_index": self.index, "_id": self.id}}
        return [head] if self.source is None else [head, self.source]

    def size(self) -> int:
        """Roughly the bytes this action adds to a request."""
        if self.source is None:
            return 64 + len(self.id)
        return 64 + len(self.id) + len(json.dumps(self.source, ensure_ascii=False).encode())


@dataclass
class BulkOutcome:
    """What happened to the actions: counts by result and failures by id."""

    indexed: int = 0
    deleted: int = 0
    not_found: int = 0
    existing: int = 0  # create actions whose id was already there
    failed: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: BulkOutcome) -> None:
        self.indexed += other.indexed
        self.deleted += other.deleted
        self.not_found += other.not_found
        self.existing += other.existing
        self.failed.extend(other.failed)


def chunks(actions: Iterable[Action], max_actions: int = MAX_ACTIONS,
           max_bytes: int = MAX_BYTES) -> Iterator[list[Action]]:
    """Groups of actions small enough for one request."""
    batch: list[Action] = []
    size = 0
    for action in actions:
        action_size = action.size()
        if batch and (len(batch) >= max_actions or size + action_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(action)
        size += action_size
    if batch:
        yield batch


def is_overload(status: int, error: Any) -> bool:
    """True for a rejection that is worth retrying later (the node is busy)."""
    kind = error.get("type", "") if isinstance(error, dict) else str(error)
    return status == 429 or "es_rejected_execution_exception" in kind


def describe(error: Any) -> str:
    """A one-line reason from a bulk item's ``error`` (type: reason; caused by …)."""
    if not isinstance(error, dict):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".strip()
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    return text


class BulkWriter:
    """Sends actions in chunks with retries; ``sleep`` is injectable for tests."""

    def __init__(self, client: Elasticsearch, *, max_attempts: int = MAX_ATTEMPTS,
                 base_delay: float = BASE_DELAY,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.sleep = sleep

    def write(self, actions: Iterable[Action],
              on_chunk: Callable[[int], None] | None = None) -> BulkOutcome:
        """Apply every action; returns the outcome of each (nothing is left out)."""
        outcome = BulkOutcome()
        for batch in chunks(actions):
            outcome.merge(self._send(batch))
            if on_chunk is not None:
                on_chunk(len(batch))
        return outcome

    def _send(self, batch: list[Action]) -> BulkOutcome:
        outcome = BulkOutcome()
        pending = batch
        for attempt in range(1, self.max_attempts + 1):
            retry: list[Action] = []
            try:
                lines = [line for action in pending for line in action.lines()]
                response = self.client.bulk(operations=lines)
            except ApiError as exc:
                if exc.status_code == 413 and len(pending) > 1:
                    half = len(pending) // 2
                    outcome.merge(self._send(pending[:half]))
                    outcome.merge(self._send(pending[half:]))
                    return outcome
                if exc.status_code == 429 or exc.status_code >= 500:
                    retry, reason = pending, f"HTTP {exc.status_code}: {exc.message}"
                else:
                    reason = f"HTTP {exc.status_code}: {exc.message}"
                    outcome.failed.extend((a.id, reason) for a in pending)
                    return outcome
            except TransportError as exc:  # connection refused, timeout after the client's retries
                detail = getattr(exc, "message", None) or exc
                retry, reason = pending, f"{type(exc).__name__}: {detail}"
            else:
                reason = ""
                for action, item in zip(pending, response.get("items", []), strict=False):
                    result = next(iter(item.values()))
                    status = int(result.get("status", 500))
                    error = result.get("error")
                    if error is None and status < 300:
                        if action.op == "delete":
                            outcome.deleted += 1
                        else:
                            outcome.indexed += 1
                    elif action.op == "delete" and status == 404:
                        outcome.not_found += 1
                    elif action.op == "create" and status == 409:
                        outcome.existing += 1
                    elif is_overload(status, error):
                        retry.append(action)
                        reason = describe(error) if error else f"HTTP {status}"
                    else:
                        why = describe(error) if error else f"HTTP {status}"
                        outcome.failed.append((action.id, why))
                missing = pending[len(response.get("items", [])):]
                outcome.failed.extend((a.id, "no result for this action in the bulk response")
                                      for a in missing)
            if not retry:
                return outcome
            if attempt == self.max_attempts:
                outcome.failed.extend((a.id, f"rejected {attempt} times, last: {reason}")
                                      for a in retry)
                return outcome
            pending = retry
            delay = min(MAX_DELAY, self.base_delay * 2 ** (attempt - 1))
            self.sleep(delay * (0.5 + random.random() / 2))  # jitter: busy nodes see spread retries
        return outcome
