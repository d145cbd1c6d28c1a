"""Small integer codes for the facet values of the FTS5 index (``search_value``).

``search_doc`` stores each facet field as a code: the value of a single-valued field
(``region``), or the packed list of a list field (``formats``: the code of
``\\x1fcsv\\x1fjson\\x1f``). Reading and counting ints for thousands of hits costs a
fraction of decoding their strings, and lists are counted once per distinct list.

The dictionary is append-only (codes never change meaning) until the index is
cleared, which starts a new *epoch*; every process keeps a copy and reads only the
codes added since. Code 0 means "no value".
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable

from search.sqlite_schema import FIELD_CODES, LIST_FIELDS, unpack


class ValueCodes:
    """This process's copy of ``search_value`` (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._epoch: str | None = None
        self._codes: dict[tuple[int, str], int] = {}
        self._values: dict[int, tuple[int, str]] = {}
        self._last = 0
        self._containing: dict[int, dict[str, list[int]]] = {}

    def sync(self, conn: sqlite3.Connection, epoch: str) -> None:
        """Start over if the index was cleared, then read codes added since last time."""
        with self._lock:
            if epoch != self._epoch:
                self._epoch, self._codes, self._values, self._last = epoch, {}, {}, 0
                self._containing = {}
            rows = conn.execute(
                "SELECT code, field, value FROM search_value WHERE code > ? ORDER BY code", (self._last,)
            ).fetchall()
            for code, field, value in rows:
                self._codes[(field, value)] = code
                self._values[code] = (field, value)
                self._last = code
            if rows:
                self._containing = {}

    def encode(self, conn: sqlite3.Connection, name: str, value: str) -> int:
        """The code of ``value`` (a packed list for list fields), added if new. Call
        inside the write transaction, after :meth:`sync`."""
        if not value:
            return 0
        field = FIELD_CODES[name]
        with self._lock:
            code = self._codes.get((field, value))
        if code is None:
            code = conn.execute(
                "INSERT INTO search_value (field, value) VALUES (?, ?) RETURNING code", (field, value)
            ).fetchone()[0]
            with self._lock:
                self._codes[(field, value)] = code
                self._values[code] = (field, value)
                self._last = max(self._last, code)
                self._containing.pop(field, None)
        return code

    def decode(self, code: int) -> str:
        """The value (or packed list) of a code; '' for 0."""
        return self._values[code][1] if code else ""

    def knows(self, codes: Iterable[int]) -> bool:
        with self._lock:
            return all(code in self._values for code in codes if code)

    def matching(self, name: str, values: Iterable[str]) -> list[int]:
        """Codes whose document has any of ``values`` in field ``name``: the values'
        own codes, or for a list field the codes of every list containing one."""
        field = FIELD_CODES[name]
        if name not in LIST_FIELDS:
            with self._lock:
                return [code for v in values if (code := self._codes.get((field, v)))]
        with self._lock:
            index = self._containing.get(field)
            if index is None:
                index = {}
                for (f, packed), code in self._codes.items():
                    if f == field:
                        for value in unpack(packed):
                            index.setdefault(value, []).append(code)
                self._containing[field] = index
        return sorted({code for v in values for code in index.get(v, ())})
