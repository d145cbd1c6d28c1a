"""The scene query: one JSON shape, validated here, compiled by each search backend.

```json
{"text": "交通 公交 -出租",
 "filters": {"region": ["杭州市"], "open_type": ["conditional"], "formats": ["csv", "json"]},
 "exclude": {"publisher": ["往年开放数据"]},
 "ranges": {"modified": {"gte": "now-90d"}, "record_count": {"gte": 1000},
            "quality.completeness": {"gte": 0.8}}}
```

- ``text``: see :mod:`search.text`.
- ``filters``: a document matches a field when it has *any* of the values (OR); every
  field given must match (AND). A lone string stands for a one-value list; an empty
  list is no filter. Values are compared exactly, except ``formats`` (lower-case).
- ``exclude``: same fields; a document having any listed value is left out.
- ``ranges``: ``gte``/``gt``/``lte``/``lt`` bounds; a document without the field never
  matches a range on it. Dates are ISO dates or datetimes, or ``now``, ``now-Nd``,
  ``now-Nh``; relative dates stay relative in the saved query and are evaluated
  when the scene runs (:meth:`SceneQuery.resolve_ranges`). A date without a time
  stands for the whole day: ``lte 2023-06-30`` includes that day, ``gt`` excludes it.

``{}`` is valid and matches every document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from search.query_values import (
    DATE_RANGE_FIELDS,
    FILTER_FIELDS,
    NUMBER_RANGE_FIELDS,
    OPEN_TYPES,
    RANGE_FIELDS,
    RANGE_OPERATORS,
    UPDATE_FREQUENCIES,
    FieldError,
    QueryError,
    check_date,
    check_filter_values,
    check_number,
    resolve_date,
    suggest,
)
from search.text import TextQuery, TextQueryError, parse_text

__all__ = [
    "DATE_RANGE_FIELDS",
    "FILTER_FIELDS",
    "NUMBER_RANGE_FIELDS",
    "OPEN_TYPES",
    "RANGE_FIELDS",
    "RANGE_OPERATORS",
    "UPDATE_FREQUENCIES",
    "FieldError",
    "QueryError",
    "RangeBound",
    "ResolvedBound",
    "SceneQuery",
    "load_query_json",
    "parse_query",
]

TOP_LEVEL_KEYS: tuple[str, ...] = ("text", "filters", "exclude", "ranges")
MAX_TEXT_LENGTH = 1000
# A query is a few levels deep ({"ranges": {"modified": {"gte": …}}}); far deeper is an attack.
MAX_DEPTH = 8

FilterValue = str | bool
FieldValues = tuple[tuple[str, tuple[FilterValue, ...]], ...]


@dataclass(frozen=True)
class RangeBound:
    """One bound as saved: ``value`` is a number or a date expression (``now-90d``)."""

    field: str
    op: str
    value: str | int | float


@dataclass(frozen=True)
class ResolvedBound:
    """A bound ready to compare: dates as naive UTC ``YYYY-MM-DDTHH:MM:SS`` strings."""

    field: str
    op: str
    value: str | int | float


@dataclass(frozen=True)
class SceneQuery:
    """A validated scene query; build it with :func:`parse_query`."""

    text: str = ""
    filters: FieldValues = ()
    exclude: FieldValues = ()
    ranges: tuple[RangeBound, ...] = ()

    def text_query(self) -> TextQuery:
        """The parsed ``text`` (validated when the query was built)."""
        return parse_text(self.text)

    def filter_map(self) -> dict[str, tuple[FilterValue, ...]]:
        return dict(self.filters)

    def exclude_map(self) -> dict[str, tuple[FilterValue, ...]]:
        return dict(self.exclude)

    def is_match_all(self) -> bool:
        """True when the query constrains nothing."""
        return not (self.filters or self.exclude or self.ranges) and self.text_query().is_empty()

    def resolve_ranges(self, now: datetime | None = None) -> tuple[ResolvedBound, ...]:
        """The range bounds with relative dates evaluated at ``now`` (default: the
        current UTC time) and date-only values turned into day boundaries."""
        if now is None:
            now = datetime.now(UTC)
        out = []
        for bound in self.ranges:
            if bound.field in DATE_RANGE_FIELDS:
                op, value = resolve_date(bound.op, str(bound.value), now)
                out.append(ResolvedBound(bound.field, op, value))
            else:
                out.append(ResolvedBound(bound.field, bound.op, bound.value))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON form (``parse_query(q.to_dict()) == q``)."""
        ranges: dict[str, dict[str, Any]] = {}
        for bound in self.ranges:
            ranges.setdefault(bound.field, {})[bound.op] = bound.value
        return {
            "text": self.text,
            "filters": {name: list(values) for name, values in self.filters},
            "exclude": {name: list(values) for name, values in self.exclude},
            "ranges": ranges,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)


def parse_query(data: dict[str, Any] | str | None) -> SceneQuery:
    """Validate ``data`` (a dict or its JSON text) into a :class:`SceneQuery`.

    Raises :class:`QueryError` listing every problem found, each naming its field.
    """
    errors: list[FieldError] = []
    if isinstance(data, str):
        data = load_query_json(data)
    if _depth(data) > MAX_DEPTH:
        raise QueryError([FieldError("query", None, f"is nested more than {MAX_DEPTH} levels deep")])
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise QueryError([FieldError("query", data, "must be a JSON object")])
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            errors.append(
                FieldError(str(key), None, "is not a query key" + suggest(key, TOP_LEVEL_KEYS))
            )
    text = _parse_text(data.get("text"), errors)
    filters = _parse_field_values("filters", data.get("filters"), errors)
    exclude = _parse_field_values("exclude", data.get("exclude"), errors)
    ranges = _parse_ranges(data.get("ranges"), errors)
    if errors:
        raise QueryError(errors)
    return SceneQuery(text=text, filters=filters, exclude=exclude, ranges=ranges)


def load_query_json(text: str) -> Any:
    """The JSON value of a query given as text; raises QueryError naming ``query`` for
    anything ``json`` cannot take (bad syntax, absurd nesting, numbers past Python's
    4,300-digit limit) instead of letting a traceback through."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueryError([FieldError("query", None, f"is not valid JSON ({exc.msg})")]) from None
    except RecursionError:
        raise QueryError([FieldError("query", None, f"is nested more than {MAX_DEPTH} levels deep")]) from None
    except ValueError:  # int() refuses numbers with more than sys.get_int_max_str_digits() digits
        raise QueryError([FieldError("query", None, "has a number with too many digits")]) from None
    return value


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children)
    return deepest


def _parse_text(value: Any, errors: list[FieldError]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(FieldError("text", value, "must be a string"))
        return ""
    text = " ".join(value.split())
    if len(text) > MAX_TEXT_LENGTH:
        errors.append(FieldError("text", None, f"is longer than {MAX_TEXT_LENGTH} characters"))
        return ""
    try:
        parse_text(text)
    except TextQueryError as exc:
        errors.append(FieldError("text", text, f"cannot be read: {exc}"))
    return text


def _parse_field_values(section: str, value: Any, errors: list[FieldError]) -> FieldValues:
    if value is None:
        return ()
    if not isinstance(value, dict):
        errors.append(FieldError(section, value, 'must be an object like {"region": ["杭州市"]}'))
        return ()
    parsed: dict[str, tuple[FilterValue, ...]] = {}
    for name, raw in value.items():
        path = f"{section}.{name}"
        if name not in FILTER_FIELDS:
            errors.append(
                FieldError(path, None, "is not a filter field" + suggest(name, FILTER_FIELDS))
            )
            continue
        values = check_filter_values(path, name, raw, errors)
        if values:
            parsed[name] = values
    # Canonical order: the order of FILTER_FIELDS, so equal queries compare equal.
    return tuple((name, parsed[name]) for name in FILTER_FIELDS if name in parsed)


def _parse_ranges(value: Any, errors: list[FieldError]) -> tuple[RangeBound, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        errors.append(
            FieldError("ranges", value, 'must be an object like {"modified": {"gte": "now-90d"}}')
        )
        return ()
    parsed: dict[str, dict[str, str | int | float]] = {}
    for name, bounds in value.items():
        path = f"ranges.{name}"
        if name not in RANGE_FIELDS:
            errors.append(
                FieldError(path, None, "is not a range field" + suggest(name, RANGE_FIELDS))
            )
            continue
        if not isinstance(bounds, dict):
            errors.append(
                FieldError(path, bounds, 'must be an object like {"gte": ..., "lt": ...}')
            )
            continue
        if not bounds:
            errors.append(FieldError(path, None, "needs at least one of gte, gt, lte, lt"))
            continue
        field_bounds: dict[str, str | int | float] = {}
        for op, raw in bounds.items():
            op_path = f"{path}.{op}"
            if op not in RANGE_OPERATORS:
                errors.append(
                    FieldError(op_path, None, "is not an operator (use gte, gt, lte or lt)")
                )
                continue
            checked = (
                check_date(op_path, raw, errors)
                if name in DATE_RANGE_FIELDS
                else check_number(op_path, name, raw, errors)
            )
            if checked is not None:
                field_bounds[op] = checked
        _check_bound_pairs(path, name, field_bounds, errors)
        if field_bounds:
            parsed[name] = field_bounds
    return tuple(
        RangeBound(name, op, parsed[name][op])
        for name in RANGE_FIELDS
        if name in parsed
        for op in RANGE_OPERATORS
        if op in parsed[name]
    )


def _check_bound_pairs(
    path: str, name: str, bounds: dict[str, Any], errors: list[FieldError]
) -> None:
    if "gte" in bounds and "gt" in bounds:
        errors.append(FieldError(path, None, "has both gte and gt; use one lower bound"))
        return
    if "lte" in bounds and "lt" in bounds:
        errors.append(FieldError(path, None, "has both lte and lt; use one upper bound"))
        return
    lower_op = "gte" if "gte" in bounds else "gt"
    upper_op = "lte" if "lte" in bounds else "lt"
    if lower_op not in bounds or upper_op not in bounds:
        return
    lower: Any = bounds[lower_op]
    upper: Any = bounds[upper_op]
    if name in DATE_RANGE_FIELDS:
        if str(lower).startswith("now") != str(upper).startswith("now"):
            return  # one absolute, one relative: empty or not depends on the run time
        now = datetime(2000, 1, 1)
        lower_op, lower = resolve_date(lower_op, str(lower), now)
        upper_op, upper = resolve_date(upper_op, str(upper), now)
    if lower > upper or (lower == upper and (lower_op, upper_op) != ("gte", "lte")):
        errors.append(
            FieldError(path, None, "lower bound is above the upper bound; nothing can match")
        )
