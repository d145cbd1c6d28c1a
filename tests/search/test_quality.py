"""Quality scores of a normalised record: completeness, timeliness, the quality block."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from search.normalise import normalise_record
from search.quality import KEY_FIELDS, assess, completeness, timeliness

NOW = datetime(2023, 7, 1, tzinfo=UTC)


def test_completeness_is_the_share_of_key_fields() -> None:
    doc = dict.fromkeys(KEY_FIELDS)
    assert completeness(doc) == 0.0
    doc.update(title="t", themes=["x"], formats=[], record_count=0)
    assert completeness(doc) == round(3 / len(KEY_FIELDS), 3)


@pytest.mark.parametrize("modified, frequency, expected", [
    ("2023-06-20", "monthly", 1.0),       # 11 days old, monthly
    ("2022-07-15", "yearly", 1.0),        # within the period and its grace
    ("2023-06-30", "daily", 1.0),
    ("2020-01-01", "daily", 0.0),
    ("2023-06-01", "irregular", None),
    ("2023-06-01", "", None),
    (None, "monthly", None),
])
def test_timeliness(modified: str | None, frequency: str, expected: float | None) -> None:
    assert timeliness(modified, frequency, NOW) == expected


def test_a_little_late_is_graded() -> None:
    value = timeliness("2023-05-01", "monthly", NOW)  # 61 days for a monthly dataset
    assert value is not None and 0.0 < value < 1.0


def test_timeliness_decreases_with_lateness() -> None:
    days = ("2023-04-01", "2023-01-01", "2022-10-01", "2022-01-01")
    scores = [timeliness(day, "quarterly", NOW) for day in days]
    assert scores[0] == 1.0
    assert scores[0] > scores[1] > scores[2] > scores[3] == 0.0


def test_quality_block() -> None:
    doc = normalise_record({"title": ["公交线路"], "modified": ["2023-06-20"],
                            "update_frequency": ["每月"]})
    quality = assess(doc, NOW)
    assert quality == {"completeness": completeness(doc), "timeliness": 1.0, "accuracy": None}
