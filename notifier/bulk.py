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
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import select

from config.extensions import db
from config.settings import Settings
from notifier import lifecycle
from notifier.channels import DeliveryError, EndpointGone, Outgoing, SendResult
from notifier.delivery import prepare_claimed, send_outgoing
from notifier.models import Channel
from notifier.owner_notice import tell_owner_endpoint_gone
from notifier.retry import lease_seconds
from notifier.ssrf import ResolutionCache, use_resolver

CHUNK = 200

Sent = tuple[SendResult | None, DeliveryError | None]


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _claim_chunk(ids: Sequence[int], now: datetime, lease: int,
                 counts: Counter[str]) -> list[tuple[int, int, Outgoing]]:
    """Claim what is still due among ``ids`` (:func:`notifier.lifecycle.claim`); (id,
    attempt, outgoing) for each to send."""
    to_send: list[tuple[int, int, Outgoing]] = []
    with db.session() as session:
        claimed = lifecycle.claim(session, ids, now, lease)
        counts["skipped"] += len(ids) - len(claimed)  # not due any more, or another worker's
        if not claimed:
            return to_send
        channels = {channel.id: channel for channel in session.scalars(
            select(Channel).where(Channel.id.in_({row.channel_id for row in claimed})))}
        for row in claimed:
            first, second = prepare_claimed(session, row, row.attempts, now, channels[row.channel_id])
            if isinstance(second, bool):
                counts[str(first)] += 1
            else:
                to_send.append((row.id, int(first), second))
    return to_send


def _send(outgoing: Outgoing, settings: Settings, resolver: ResolutionCache) -> Sent:
    with use_resolver(resolver):
        return send_outgoing(outgoing, settings)


def deliver_batch(ids: Sequence[int], now: datetime, settings: Settings,
                  chunk_size: int = CHUNK) -> dict[str, int]:
    """Attempt each of ``ids`` once (those still due); counts by resulting state,
    plus ``skipped`` for those another worker had or that are gone."""
    counts: Counter[str] = Counter()
    lease = lease_seconds(settings)
    # Send-time SSRF checks resolve each host once per batch (the peer check stays per connection).
    resolver = ResolutionCache()
    with ThreadPoolExecutor(max_workers=settings.delivery_concurrency,
                            thread_name_prefix="scenewatch-send") as pool:

        def send(to_send: list[tuple[int, int, Outgoing]]) -> list[Future[Sent]]:
            # The network calls happen outside any transaction: no lock is held meanwhile.
            return [pool.submit(_send, outgoing, settings, resolver) for _, _, outgoing in to_send]

        # Pipelined: the next chunk is claimed, and the previous one recorded, while
        # this one is on the wire. Each chunk is still claimed before it is sent and
        # recorded after its sends have finished.
        def record(to_send: list[tuple[int, int, Outgoing]], outcomes: list[Sent]) -> None:
            with db.session() as session:
                counts.update(lifecycle.record(
                    session, [(notification_id, attempt, result, failure)
                              for (notification_id, attempt, _), (result, failure)
                              in zip(to_send, outcomes, strict=True)],
                    now, settings))
            for (notification_id, _, _), (_, failure) in zip(to_send, outcomes, strict=True):
                if isinstance(failure, EndpointGone):  # after the commit: the channel is disabled
                    tell_owner_endpoint_gone(notification_id, settings)

        in_flight: tuple[list[tuple[int, int, Outgoing]], list[Future[Sent]]] | None = None
        for chunk in _chunks(ids, chunk_size):
            claimed = _claim_chunk(chunk, now, lease, counts)
            done = None
            if in_flight is not None:
                done = (in_flight[0], [future.result() for future in in_flight[1]])
            in_flight = (claimed, send(claimed))
            if done is not None:
                record(*done)
        if in_flight is not None:
            record(in_flight[0], [future.result() for future in in_flight[1]])
    return dict(counts)
