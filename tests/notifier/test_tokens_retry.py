"""Signed link tokens and the retry policy."""
from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

import pytest

from config.settings import Settings
from notifier.retry import max_attempts, next_delay
from notifier.tokens import (
    ExpiredToken,
    InvalidToken,
    make_confirm_token,
    make_download_token,
    make_unsubscribe_token,
    object_stamp,
    read_confirm_token,
    read_download_token,
    read_unsubscribe_token,
    unsubscribe_url,
)

BORN = datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
STAMP = object_stamp(BORN)


def test_unsubscribe_token_round_trip(settings: Settings) -> None:
    token = make_unsubscribe_token(42, settings, created_at=BORN)
    assert read_unsubscribe_token(token, settings) == (42, STAMP)
    url = unsubscribe_url(42, settings, created_at=BORN)
    assert url.startswith(f"{settings.base_url}/unsubscribe/")
    assert read_unsubscribe_token(url.rsplit("/", 1)[1], settings) == (42, STAMP)


def test_tokens_do_not_cross_purposes_or_keys(settings: Settings) -> None:
    unsubscribe = make_unsubscribe_token(7, settings, created_at=BORN)
    download = make_download_token(7, "added", settings, started_at=BORN)
    with pytest.raises(InvalidToken):
        read_download_token(unsubscribe, settings=settings)
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(download, settings)
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(unsubscribe[:-2] + "xx", settings)
    other = dataclasses.replace(settings, secret_key="another key entirely")
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(unsubscribe, other)


def test_download_token(settings: Settings) -> None:
    token = make_download_token(12, "all", settings, started_at=BORN)
    assert read_download_token(token, 3600, settings) == (12, "all", STAMP)
    with pytest.raises(ExpiredToken):
        read_download_token(token, -1, settings)
    with pytest.raises(ValueError, match="selection"):
        make_download_token(12, "everything", settings, started_at=BORN)


def test_stamps_are_exact_microseconds() -> None:
    assert object_stamp(BORN) == 1770091506789012
    assert object_stamp(BORN.replace(microsecond=789013)) == STAMP + 1


def test_confirm_token_carries_the_address(settings: Settings) -> None:
    token = make_confirm_token(3, "reader@example.org", settings, created_at=BORN)
    assert read_confirm_token(token, settings=settings) == (3, "reader@example.org", STAMP)
    with pytest.raises(ExpiredToken):
        read_confirm_token(token, max_age=-1, settings=settings)


def test_retry_delays_follow_schedule_with_jitter() -> None:
    schedule = (5, 300, 1800)
    rng = random.Random(1)
    delays = [next_delay(n, schedule, rng=rng) for n in (1, 2, 3)]
    for delay, base in zip(delays, schedule, strict=True):
        assert delay is not None and base * 0.9 <= delay <= base * 1.1
    assert next_delay(4, schedule) is None  # attempts exhausted
    assert max_attempts(schedule) == 4
    # Retry-After wins when it asks for longer, never when it asks for less.
    assert next_delay(1, schedule, retry_after=120, rng=rng) == 120
    assert next_delay(3, schedule, retry_after=10, rng=rng) >= 1800 * 0.9
    spread = {round(next_delay(2, schedule, rng=rng) or 0) for _ in range(20)}
    assert len(spread) > 1  # jitter actually varies
