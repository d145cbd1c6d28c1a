"""The retry policy: when the next attempt happens, and how long a claim lasts.

Attempt 1 is immediate; after the n-th failure the next attempt waits
``schedule[n-1]`` seconds ±10 % jitter (so endpoints that failed together are not
retried together), or longer when the receiver's Retry-After asks for it. After
``len(schedule) + 1`` attempts the notification is dead.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

from config.settings import Settings

JITTER = 0.10


def max_attempts(schedule: Sequence[int]) -> int:
    """How many attempts a notification gets: the first plus one per schedule step."""
    return len(schedule) + 1


def next_delay(failed_attempts: int, schedule: Sequence[int], retry_after: float | None = None,
               rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``failed_attempts`` failures, or None when
    the schedule is used up (the notification is dead)."""
    if failed_attempts < 1 or failed_attempts > len(schedule):
        return None
    base = float(schedule[failed_attempts - 1])
    delay = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None and retry_after > delay:
        return float(retry_after)
    return max(delay, 0.0)


def lease_seconds(settings: Settings) -> int:
    """How long a claimed attempt stays invisible to other workers.

    Longer than any send can take (request timeout, SMTP dialogue); if the worker dies
    mid-send, the attempt becomes due again once the lease runs out.
    ``SCENEWATCH_DELIVERY_LEASE`` sets it explicitly.
    """
    if settings.delivery_lease > 0:
        return settings.delivery_lease
    return max(120, 4 * int(settings.webhook_timeout))
