"""Field names, value checks and errors of the scene query (see :mod:`search.query`)."""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from search import vocabulary

FILTER_FIELDS: tuple[str, ...] = (
    "source",
    "publisher",
    "region",
    "themes",
    "tags",
    "formats",
    "open_type",
    "update_frequency",
    "license",
    "machine_readable",
)
DATE_RANGE_FIELDS: tuple[str, ...] = ("created", "modified")
NUMBER_RANGE_FIELDS: tuple[str, ...] = (
    "record_count",
    "size",
    "quality.completeness",
    "quality.timeliness",
    "quality.accuracy",
)
RANGE_FIELDS: tuple[str, ...] = DATE_RANGE_FIELDS + NUMBER_RANGE_FIELDS
RANGE_OPERATORS: tuple[str, ...] = ("gte", "gt", "lte", "lt")
# One owner: the vocabularies the harvester maps portal wording onto.
OPEN_TYPES: tuple[str, ...] = vocabulary.OPEN_TYPES
UPDATE_FREQUENCIES: tuple[str, ...] = vocabulary.FREQUENCIES
ENUMS: dict[str, tuple[str, ...]] = {
    "open_type": OPEN_TYPES,
    "update_frequency": UPDATE_FREQUENCIES,
}
MAX_VALUES = 1000

_RELATIVE = re.compile(r"^now(?:-(\d{1,6})([dh]))?$")
_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_HINT = "is not a date (use YYYY-MM-DD or now-Nd)"


@dataclass(frozen=True)
class FieldError:
    """One problem in a query: where (``filters.region``, ``ranges.modified.gte``), the
    offending value (None when the key itself is wrong) and why."""

    field: str
    value: Any
    reason: str

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.field}: {self.reason}"
        shown = json.dumps(self.value, ensure_ascii=False, default=str)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{self.field}: {shown} {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
            "message": str(self),
        }


class QueryError(ValueError):
    """A scene query that does not validate; ``errors`` lists every problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


def suggest(name: Any, choices: tuple[str, ...]) -> str:
    """A hint naming the closest known name, or all of them."""
    close = difflib.get_close_matches(str(name), choices, n=1, cutoff=0.6)
    if close:
        return f'; did you mean "{close[0]}"?'
    return " (known: " + ", ".join(choices) + ")"


def check_filter_values(
    path: str, name: str, raw: Any, errors: list[FieldError]
) -> tuple[Any, ...]:
    """The values of one filter field, deduplicated and sorted (a canonical form)."""
    items = raw if isinstance(raw, list) else [raw]
    if name == "machine_readable":
        bools = []
        for i, item in enumerate(items):
            item_path = path if not isinstance(raw, list) else f"{path}[{i}]"
            if isinstance(item, str) and item.strip().lower() in {"true", "false"}:
                item = item.strip().lower() == "true"  # forms send strings
            if not isinstance(item, bool):
                errors.append(FieldError(item_path, item, "must be true or false"))
                continue
            bools.append(item)
        return tuple(sorted(set(bools)))
    if len(items) > MAX_VALUES:
        errors.append(FieldError(path, None, f"has more than {MAX_VALUES} values"))
        return ()
    values: set[str] = set()
    for i, item in enumerate(items):
        item_path = path if not isinstance(raw, list) else f"{path}[{i}]"
        if not isinstance(item, str):
            errors.append(FieldError(item_path, item, "must be a string or a list of strings"))
            continue
        value = item.strip()
        if not value:
            errors.append(FieldError(item_path, item, "must not be empty"))
            continue
        if name == "formats":
            value = value.lower()
        if name in ENUMS:
            value = value.lower()
            if value not in ENUMS[name]:
                errors.append(
                    FieldError(
                        item_path, item, f"is not a valid {name}" + suggest(value, ENUMS[name])
                    )
                )
                continue
        values.add(value)
    return tuple(sorted(values))


def check_date(path: str, raw: Any, errors: list[FieldError]) -> str | None:
    """A date bound in its saved form (relative ones stay relative), or None if invalid."""
    if not isinstance(raw, str):
        errors.append(FieldError(path, raw, _DATE_HINT))
        return None
    value = raw.strip()
    if _RELATIVE.match(value.lower()):
        return value.lower()
    if _ISO.match(value):
        try:
            parse_datetime(value)
            return value
        except ValueError:
            pass
    errors.append(FieldError(path, raw, _DATE_HINT))
    return None


MAX_BOUND = 2**63 - 1


def _shown(raw: Any) -> Any:
    """The value as an error message may quote it (a huge number or string is cut)."""
    text = raw if isinstance(raw, str) else None
    if isinstance(raw, int) and not isinstance(raw, bool) and len(str(raw)) > 40:
        return f"{str(raw)[:20]}… ({len(str(abs(raw)))} digits)"
    if text is not None and len(text) > 40:
        return text[:40] + "…"
    return raw


def check_number(path: str, name: str, raw: Any, errors: list[FieldError]) -> int | float | None:
    """A numeric bound (numeric strings accepted), or None if invalid."""
    number: int | float | None = None
    if isinstance(raw, bool):
        number = None  # true/false are JSON numbers to Python, not to the user
    elif isinstance(raw, (int, float)):
        number = raw
    elif isinstance(raw, str):
        try:
            number = int(raw.strip())
        except ValueError:
            try:
                number = float(raw.strip())
            except ValueError:
                number = None
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        errors.append(FieldError(path, _shown(raw), "is not a number"))
        return None
    if abs(number) > MAX_BOUND:
        # Stored counts are 64-bit integers: a bound past them can never be compared
        # (and would break every run of a saved scene).
        errors.append(FieldError(path, _shown(raw), f"must be between {-MAX_BOUND} and {MAX_BOUND}"))
        return None
    if name.startswith("quality.") and not 0 <= number <= 1:
        errors.append(FieldError(path, raw, "must be between 0 and 1"))
        return None
    return number


def parse_datetime(value: str) -> datetime:
    """An ISO date or datetime as a naive UTC datetime (aware values are converted)."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _stamp(moment: datetime) -> str:
    # isoformat zero-pads years before 1000, which strftime("%Y") does not on every libc:
    # the stored form must sort as a string.
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


def normalise_datetime(value: Any) -> str | None:
    """A document's date as the sortable ``YYYY-MM-DDTHH:MM:SS`` (UTC) or None.

    Backends store dates in this form so that comparisons with resolved bounds are
    plain string comparisons."""
    if not isinstance(value, str) or not value.strip():
        return None
    if _PLAIN_DATE.fullmatch(value):  # the common case, without a datetime round trip
        try:
            date.fromisoformat(value)
            return value + "T00:00:00"
        except ValueError:
            return None
    try:
        return _stamp(parse_datetime(value))
    except ValueError:
        return None


def resolve_date(op: str, value: str, now: datetime) -> tuple[str, str]:
    """``(op, YYYY-MM-DDTHH:MM:SS)`` for a saved date bound evaluated at ``now``.

    A date without time covers its whole day, so ``lte``/``gt`` move to the next
    midnight (as ``lt``/``gte``)."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = relative.groups()
        delta = timedelta(days=int(amount)) if unit == "d" else timedelta(hours=int(amount or 0))
        return op, _stamp(now - delta)
    moment = parse_datetime(value)
    if len(value.strip()) == 10:  # date only
        if op == "lte":
            op, moment = "lt", moment + timedelta(days=1)
        elif op == "gt":
            op, moment = "gte", moment + timedelta(days=1)
    return op, _stamp(moment)
