"""What every reader hands to the harvest pipeline: a record as found, with its place."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

# A quarantined record keeps its raw text; a pathological record (a 30 KB HTML licence
# times thousands of rows) should not bloat the store, so the text is capped.
RAW_TEXT_LIMIT = 65536


class HarvestError(Exception):
    """The snapshot as a whole cannot be read (missing, corrupt, unknown format).

    The message is meant for the user as is: the CLI prints it without a traceback.
    ``http_status`` is the portal's answer when it refused; ``harvest_id`` the Harvest
    row that records the failure (set by the pipeline).
    """

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.harvest_id: int | None = None


CUT_SHORT = "the snapshot ends inside this record: it was cut short"


@dataclass(frozen=True, slots=True)
class CutShort:
    """The text of a last record cut mid-way (a truncated download); it is quarantined."""

    text: str


@dataclass(slots=True)
class SourceRecord:
    """One record of a snapshot.

    ``raw`` is the record as found (a dict for JSON/CSV/XLSX rows and DCAT datasets,
    anything else for malformed JSON items). ``mapped`` is filled by readers that map
    fields themselves (DCAT); portal exports are mapped by :mod:`search.mapping`.
    """

    position: str
    raw: Any
    kind: str = "json"  # json | csv | xlsx: how to render ``raw`` for quarantine
    mapped: dict[str, list[Any]] | None = None
    problem: str | None = None  # set by a reader that already knows the record is broken

    def raw_text(self) -> str:
        """The record as text: JSON for JSON sources, the CSV line for CSV rows."""
        if self.kind == "csv" and isinstance(self.raw, (dict, list)):
            values = self.raw.values() if isinstance(self.raw, dict) else self.raw
            buffer = io.StringIO()
            csv.writer(buffer).writerow(["" if v is None else v for v in values])
            text = buffer.getvalue().rstrip("\r\n")
        else:
            text = json.dumps(self.raw, ensure_ascii=False, default=str)
        if len(text) > RAW_TEXT_LIMIT:
            text = text[:RAW_TEXT_LIMIT] + f"… [{len(text) - RAW_TEXT_LIMIT} more characters]"
        return text
