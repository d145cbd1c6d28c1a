"""Portal JSON exports: an array of records, several arrays written one after another
into the same file (what some crawlers and portals produce when paging), or an object
wrapping the array (``{"data": [...]}``, ``{"result": {"results": [...]}}``)."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from search.harvest.records import CUT_SHORT, RAW_TEXT_LIMIT, CutShort, HarvestError, SourceRecord

# Keys under which exports commonly wrap their list of records, most specific first.
WRAPPER_KEYS = ("datasets", "dataset", "records", "data", "items", "rows", "results",
                "result", "list", "content", "resources")
_SKIP = " \t\r\n,\ufeff"
# The first key of an object whose value is a list of objects (a wrapped record list).
_LIST_OF_OBJECTS = re.compile(r'"([^"\\]{1,100})"\s*:\s*\[\s*(?=\{)')


def load_json_values(text: str, location: str) -> list[Any]:
    """Every top-level JSON value in ``text`` (one, or several concatenated)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in _SKIP:
            position += 1
        if position >= end:
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            salvaged = _salvage(text, position, exc, bool(values))
            if salvaged is None:
                raise HarvestError(
                    f"{location} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                    f"column {exc.colno}") from None
            values.append(salvaged)
            break
        values.append(value)
    if not values:
        raise HarvestError(f"{location} is empty")
    return values


def _cut_at_end(text: str, exc: json.JSONDecodeError) -> bool:
    """True when the parser ran out of text (a truncated file), not into bad syntax."""
    return exc.pos >= len(text.rstrip(_SKIP)) - 1 or "Unterminated string" in exc.msg


def _records_until_cut(text: str, position: int) -> list[Any] | None:
    """The complete items of a JSON array starting at ``position`` (just after ``[``),
    then a :class:`CutShort` for the item the text ends in; None if the array is not cut."""
    decoder = json.JSONDecoder()
    items: list[Any] = []
    end = len(text)
    while True:
        while position < end and text[position] in _SKIP:
            position += 1
        if position >= end:
            break
        if text[position] == "]":
            return None  # the array is complete: the damage is elsewhere
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            if not _cut_at_end(text, exc):
                return None
            items.append(CutShort(text[position:][:RAW_TEXT_LIMIT]))
            break
        items.append(item)
    return items


def _salvage(text: str, position: int, exc: json.JSONDecodeError,
             after_values: bool) -> Any | None:
    """What a snapshot cut short still holds: for an array (bare or wrapped in an object)
    its complete records and the cut one; for the last of several concatenated values
    (JSON Lines) the cut record. None when the damage is not a truncation."""
    if not _cut_at_end(text, exc):
        return None
    if after_values or text[position] not in "[{":
        return [CutShort(text[position:][:RAW_TEXT_LIMIT])]  # a JSON Lines record
    if text[position] == "[":
        return _records_until_cut(text, position + 1)
    wrapper = _LIST_OF_OBJECTS.search(text, position)
    if wrapper is None:
        return None
    items = _records_until_cut(text, wrapper.end())
    return None if items is None else {wrapper.group(1): items}


def _wrapped_list(obj: dict[str, Any], depth: int = 0) -> tuple[str, list[Any]] | None:
    """The list of records an object wraps, with the key path that leads to it."""
    for key in WRAPPER_KEYS:
        value = obj.get(key)
        if isinstance(value, list):
            return key, value
        if isinstance(value, dict) and depth < 2:
            inner = _wrapped_list(value, depth + 1)
            if inner is not None:
                return f"{key}.{inner[0]}", inner[1]
    for key, value in obj.items():  # any other key holding a list of objects
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return key, value
    return None


def records_from_values(values: list[Any]) -> Iterator[SourceRecord]:
    """The records in the parsed top-level values, each with a readable position."""
    several = len(values) > 1
    for number, value in enumerate(values, start=1):
        prefix = f"array {number}, " if several else ""
        if isinstance(value, dict):
            wrapped = _wrapped_list(value)
            if wrapped is None:  # a file holding a single record
                yield SourceRecord(position=f"{prefix}object", raw=value)
                continue
            path, items = wrapped
            prefix = f"{prefix}{path} "
        elif isinstance(value, list):
            items = value
        else:
            yield SourceRecord(position=f"{prefix}value", raw=value)
            continue
        for index, item in enumerate(items, start=1):
            if isinstance(item, CutShort):
                yield SourceRecord(position=f"{prefix}item {index}", raw=item.text,
                                   problem=CUT_SHORT)
                continue
            yield SourceRecord(position=f"{prefix}item {index}", raw=item)
