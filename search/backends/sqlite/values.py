"""Small integer codes for the filter values of the FTS5 index (``search_value``).

``search_doc`` stores each coded field as a code: the value of a single-valued field
(``region``), or the packed list of a list field (``formats``: the code of
``\\x1fcsv\\x1fjson\\x1f``). Reading and counting ints for thousands of hits costs a
fraction of decoding their strings, and lists are counted once per distinct list.

The dictionary is append-only (codes never change meaning) until the index is
cleared, which starts a new *epoch*; each process keeps one :class:`ValueCodes` per
epoch and reads only the codes added since its last look. Code 0 means "no value".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence

from search.backends.sqlite.schema import FIELD_CODES, LIST_FIELDS, unpack


class ValueCodes:
    """This process's copy of ``search_value`` for one epoch (thread-safe)."""

    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self._lock = threading.Lock()
        self._codes: dict[tuple[int, str], int] = {}
        self._values: dict[int, str] = {}
        self._last = 0
        self._containing: dict[int, dict[str, list[int]]] = {}

    def update(self, conn: sqlite3.Connection) -> None:
        """Read the codes added since the last update (in ``conn``'s snapshot)."""
        with self._lock:
            rows = conn.execute(
                "SELECT code, field, value FROM search_value WHERE code > ? ORDER BY code",
                (self._last,),
            ).fetchall()
            for code, field, value in rows:
                self._remember(code, field, value)

    def _remember(self, code: int, field: int, value: str) -> None:
        self._codes[(field, value)] = code
        self._values[code] = value
        self._last = max(self._last, code)
        self._containing.pop(field, None)

    def encode_rows(
        self, conn: sqlite3.Connection, names: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> list[tuple[int, ...]]:
        """The codes of every value of ``rows`` (value i of a row belongs to field
        ``names[i]``; code 0 for ""), the new ones added in one statement, numbered in
        order of appearance. Only inside a write transaction (where :meth:`update` has
        read every code); if it rolls back, drop this object."""
        fields = [FIELD_CODES[name] for name in names]
        with self._lock:
            codes = self._codes
            missing: dict[tuple[int, str], None] = {}
            for row in rows:
                for key in zip(fields, row, strict=True):
                    if key[1] and key not in codes:
                        missing[key] = None
            if missing:
                last = conn.execute("SELECT coalesce(max(code), 0) FROM search_value").fetchone()[0]
                added = [(last + i, field, value) for i, (field, value) in enumerate(missing, 1)]
                conn.executemany(
                    "INSERT INTO search_value (code, field, value) VALUES (?, ?, ?)", added
                )
                for code, field, value in added:
                    self._remember(code, field, value)
            get = codes.get
            return [tuple([get(key, 0) for key in zip(fields, row, strict=True)]) for row in rows]

    def decode(self, conn: sqlite3.Connection, codes: Iterable[int]) -> dict[int, str]:
        """The values of ``codes`` (0 excluded), reading any this copy lacks."""
        wanted = [code for code in codes if code]
        with self._lock:
            missing = [code for code in wanted if code not in self._values]
        if missing:
            self.update(conn)
        with self._lock:
            return {code: self._values[code] for code in wanted}

    def matching(self, name: str, values: Iterable[str]) -> list[int]:
        """Codes whose documents have any of ``values`` in field ``name``: the values'
        own codes, or for a list field the codes of every list holding one of them."""
        field = FIELD_CODES[name]
        with self._lock:
            if name not in LIST_FIELDS:
                return sorted({code for v in values if (code := self._codes.get((field, v)))})
            index = self._containing.get(field)
            if index is None:
                index = {}
                for (f, packed), code in self._codes.items():
                    if f == field:
                        for value in unpack(packed):
                            index.setdefault(value, []).append(code)
                self._containing[field] = index
            return sorted({code for v in values for code in index.get(v, ())})
