"""Portal CSV exports, streamed row by row.

The encoding comes from the first bytes (UTF-8, UTF-8 with BOM, else GB18030); the
delimiter from the header line (comma, tab or semicolon). A row whose field count
differs from the header's is a broken line, quarantined with the reason.
"""
from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator

from search.harvest.fetch import Snapshot, text_encoding
from search.harvest.records import HarvestError, SourceRecord

# Real catalogs put whole data dictionaries in one cell (HDR UK: 270 000 characters).
csv.field_size_limit(min(sys.maxsize, 1 << 30))

DELIMITERS = (",", "\t", ";", "|")


def _delimiter(head_text: str) -> str:
    first_line = head_text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(row: list[str]) -> list[str]:
    names: list[str] = []
    for index, name in enumerate(row):
        name = name.strip().lstrip("\ufeff")
        names.append(name or f"column {index + 1}")
    return names


class _Lines:
    """The physical lines csv reads, remembering those of the row being read: at the
    end of the file they tell whether the last row stopped inside a quoted field."""

    def __init__(self, text: Iterator[str]) -> None:
        self._text = text
        self.row_text: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for line in self._text:
            self.row_text.append(line)
            yield line

    def start_row(self) -> None:
        self.row_text = []

    def ends_inside_quotes(self) -> bool:
        """True when the row read last has an odd number of quotes (for the last row
        of the file: it stopped inside a quoted field)."""
        return "".join(self.row_text).count('"') % 2 == 1


def read_csv(snapshot: Snapshot) -> Iterator[SourceRecord]:
    """The rows of a CSV snapshot as records keyed by the header's labels.

    A last row cut mid-way (an unclosed quoted field at the end of the file, or too
    few fields) is quarantined, never stored as a dataset with a truncated value.
    """
    rows = _rows(snapshot)
    pending = next(rows, None)
    for following in rows:
        assert pending is not None
        yield pending[0]
        pending = following
    if pending is None:
        return
    record, unclosed = pending
    if unclosed and record.problem is None:  # a stray quote mid-file is just a character
        record.problem = "the file ends inside this row's quoted field: the row was cut short"
    yield record


def _rows(snapshot: Snapshot) -> Iterator[tuple[SourceRecord, bool]]:
    """(record, whether its text has an unclosed quote) for every row."""
    encoding = text_encoding(snapshot.head)
    head_text = snapshot.head.decode(encoding, errors="ignore")
    lines = _Lines(io.TextIOWrapper(snapshot.stream, encoding=encoding, newline=""))
    reader = csv.reader(lines, delimiter=_delimiter(head_text))
    try:
        header = _header(next(reader))
    except StopIteration:
        raise HarvestError(f"{snapshot.location} is empty") from None
    except csv.Error as exc:
        raise HarvestError(f"{snapshot.location}: unreadable CSV header ({exc})") from None
    width = len(header)
    previous_line = reader.line_num
    while True:
        lines.start_row()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise HarvestError(
                f"{snapshot.location}: CSV error near line {reader.line_num}: {exc}") from None
        position = f"line {previous_line + 1}"
        previous_line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) > width and not any(cell.strip() for cell in row[width:]):
            row = row[:width]  # trailing delimiters
        unclosed = lines.ends_inside_quotes()
        if len(row) != width:
            yield SourceRecord(position=position, raw=row, kind="csv",
                               problem=f"row has {len(row)} fields where the header has {width}"
                               ), unclosed
            continue
        record: dict[str, str] = {}
        for name, cell in zip(header, row, strict=True):
            if name not in record or not record[name]:
                record[name] = cell
        yield SourceRecord(position=position, raw=record, kind="csv"), unclosed
