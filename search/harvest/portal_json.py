"""Portal JSON exports: an array of records, several arrays written one after another
into the same file (what some crawlers and portals produce when paging), or an object
wrapping the array (``{"data": [...]}``, ``{"result": {"results": [...]}}``)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from search.harvest.records import HarvestError, SourceRecord

# Keys under which exports commonly wrap their list of records, most specific first.
WRAPPER_KEYS = ("datasets", "dataset", "records", "data", "items", "rows", "results",
                "result", "list", "content", "resources")
_SKIP = " \t\r\n,\ufeff"


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
            raise HarvestError(
                f"{location} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        values.append(value)
    if not values:
        raise HarvestError(f"{location} is empty")
    return values


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
            yield SourceRecord(position=f"{prefix}item {index}", raw=item)
