"""Dataset quality: completeness, timeliness and accuracy, each in [0, 1] or None.

- completeness: the share of :data:`KEY_FIELDS` that have a value.
- timeliness: whether ``modified`` keeps up with the declared update frequency at
  ``now``. 1.0 while the last update is within one period plus a grace of a quarter
  period (at least a day, for publishing lag); after that it falls linearly to 0.0
  over two more periods. None when the frequency is unknown or irregular, or there
  is no ``modified`` date: "unknown" must not read as "late".
- accuracy: not assessed by scenewatch. None unless a value was stored on the dataset;
  a harvest keeps a stored value (``search.catalog``).

Timeliness depends on ``now``, so quality is kept out of the content hash: a dataset
growing late is not a new version of it.
"""
from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from search.vocabulary import FREQUENCY_DAYS

KEY_FIELDS: tuple[str, ...] = (
    "title", "description", "publisher", "region", "themes", "tags", "formats", "open_type",
    "update_frequency", "license", "created", "modified", "record_count", "landing_page",
)
# A catalog's "modified" is at best a date: datasets updated every minute or hour are
# on time if the catalog says they changed within the last day.
_MINIMUM_PERIOD_DAYS = 1.0


def completeness(doc: dict[str, Any]) -> float:
    """Share of the key metadata fields that have a value, rounded to 3 places.
    Empty text and empty lists are absent; a count of 0 is a value."""
    present = 0
    for name in KEY_FIELDS:
        value = doc.get(name)
        if value or (value == 0 and value is not None and not isinstance(value, (str, list))):
            present += 1
    return round(present / len(KEY_FIELDS), 3)


def parse_moment(value: str | None) -> datetime | None:
    """A UTC datetime from the ISO forms the normaliser writes (date, date-time, YYYY-MM)."""
    return _parse_moment(value) if value else None


@lru_cache(maxsize=65536)  # many datasets share a modification date
def _parse_moment(value: str) -> datetime | None:
    text = value.strip()
    try:
        if len(text) == 4:
            moment = datetime(int(text), 1, 1)
        elif len(text) == 7:
            moment = datetime(int(text[:4]), int(text[5:7]), 1)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def timeliness(modified: str | None, update_frequency: str, now: datetime) -> float | None:
    """1.0 when on time, falling to 0.0 when two periods overdue; None when unknown."""
    period = FREQUENCY_DAYS.get(update_frequency or "")
    moment = parse_moment(modified)
    if period is None or moment is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    period = max(period, _MINIMUM_PERIOD_DAYS)
    allowed = period + max(_MINIMUM_PERIOD_DAYS, period / 4)
    age = (now - moment).total_seconds() / 86400
    if age <= allowed:
        return 1.0
    return round(max(0.0, 1.0 - (age - allowed) / (2 * period)), 3)


def assess(doc: dict[str, Any], now: datetime, accuracy: float | None = None) -> dict[str, Any]:
    """The quality block of a dataset document."""
    return {
        "completeness": completeness(doc),
        "timeliness": timeliness(doc.get("modified"), doc.get("update_frequency", ""), now),
        "accuracy": accuracy,
    }
