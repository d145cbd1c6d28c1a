"""Sending a batch of due notifications quickly: claim a chunk in one transaction,
send it in parallel on a thread pool (each thread keeps its HTTP connections alive),
record every outcome in one transaction.

The per-notification rules are those of :mod:`notifier.delivery` (the same claim,
the same lease, the same log rows); only the grouping differs. A worker that dies
mid-chunk leaves its claims to expire, and the next tick sends them again with the
same webhook-id.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from config.extensions import db
from config.settings import Settings
from notifier.channels import Outgoing
from notifier.delivery import ACTIVE, prepare_claimed, record_outcomes, send_outgoing
from notifier.models import Notification
from notifier.retry import lease_seconds

CHUNK = 200


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _claim_chunk(ids: Sequence[int], now: datetime, lease: int,
                 counts: Counter[str]) -> list[tuple[int, int, Outgoing]]:
    """Claim what is still due among ``ids`` with one UPDATE … RETURNING (so exactly the
    rows this worker won come back); (id, attempt, outgoing) for each to send."""
    to_send: list[tuple[int, int, Outgoing]] = []
    with db.session() as session:
        claimed: dict[int, int] = dict(session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.state.in_(ACTIVE),
                   or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now))
            .values(next_attempt_at=now + timedelta(seconds=lease), attempts=Notification.attempts + 1)
            .returning(Notification.id, Notification.attempts)
            .execution_options(synchronize_session=False)
        ).tuples().all())
        counts["skipped"] += len(ids) - len(claimed)  # not due any more, or another worker's
        if not claimed:
            return to_send
        rows = session.scalars(select(Notification).where(Notification.id.in_(list(claimed)))
                               .options(joinedload(Notification.channel)).order_by(Notification.id))
        for notification in rows:
            first, second = prepare_claimed(session, notification, claimed[notification.id], now)
            if isinstance(second, bool):
                counts[str(first)] += 1
            else:
                to_send.append((notification.id, int(first), second))
    return to_send


def deliver_batch(ids: Sequence[int], now: datetime, settings: Settings,
                  chunk_size: int = CHUNK) -> dict[str, int]:
    """Attempt each of ``ids`` once (those still due); counts by resulting state,
    plus ``skipped`` for those another worker had or that are gone."""
    counts: Counter[str] = Counter()
    lease = lease_seconds(settings)
    with ThreadPoolExecutor(max_workers=settings.delivery_concurrency,
                            thread_name_prefix="scenewatch-send") as pool:
        for chunk in _chunks(ids, chunk_size):
            to_send = _claim_chunk(chunk, now, lease, counts)
            # The network calls happen outside any transaction: no lock is held meanwhile.
            outcomes = list(pool.map(lambda item: send_outgoing(item[2], settings), to_send))
            with db.session() as session:
                counts.update(record_outcomes(
                    session, [(notification_id, attempt, result, failure)
                              for (notification_id, attempt, _), (result, failure) in zip(to_send, outcomes)],
                    now, settings))
    return dict(counts)
