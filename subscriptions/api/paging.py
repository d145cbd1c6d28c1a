"""Cursor paging: opaque cursors that say where the next page starts.

Lists ordered by id (newest first) use keyset cursors ("ids below N"), so a page does
not shift when rows are added meanwhile; search results use an offset cursor (the
search backends page by offset). A cursor is base64url JSON, tied to its list by a
``k`` (kind) field so one list's cursor is refused by another.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select

from subscriptions.api.problems import invalid

T = TypeVar("T")
MAX_OFFSET = 10_000  # Elasticsearch's default result window


def encode_cursor(kind: str, value: int) -> str:
    """An opaque cursor for position ``value`` in list ``kind``."""
    raw = json.dumps({"k": kind, "v": value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The position in ``cursor`` (None for the first page); a 422 naming ``cursor`` otherwise."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeEncodeError, binascii.Error):
        data = None
    value = data.get("v") if isinstance(data, dict) and data.get("k") == kind else None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
        raise invalid([{"field": "cursor", "message": "is not a cursor of this list; use next_cursor as given"}])
    return value


def keyset_page(session: Any, stmt: Select[Any], id_column: Any, kind: str, limit: int,
                cursor: str | None) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` newest first (by ``id_column``), and the cursor of the next."""
    below = decode_cursor(kind, cursor)
    if below is not None:
        stmt = stmt.where(id_column < below)
    rows: Sequence[Any] = session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)).all()
    items = list(rows[:limit])
    next_cursor = encode_cursor(kind, items[-1].id) if len(rows) > limit and items else None
    return items, next_cursor


def offset_cursor(kind: str, offset: int, limit: int, total: int) -> str | None:
    """The cursor after a page starting at ``offset``, or None on the last page."""
    following = offset + limit
    if following >= total or following >= MAX_OFFSET:
        return None
    return encode_cursor(kind, following)
