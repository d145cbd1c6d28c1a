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


def read_csv(snapshot: Snapshot) -> Iterator[SourceRecord]:
    """The rows of a CSV snapshot as records keyed by the header's labels."""
    encoding = text_encoding(snapshot.head)
    head_text = snapshot.head.decode(encoding, errors="ignore")
    text = io.TextIOWrapper(snapshot.stream, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=_delimiter(head_text))
    try:
        header = _header(next(reader))
    except StopIteration:
        raise HarvestError(f"{snapshot.location} is empty") from None
    except csv.Error as exc:
        raise HarvestError(f"{snapshot.location}: unreadable CSV header ({exc})") from None
    width = len(header)
    previous_line = reader.line_num
    while True:
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
        if len(row) != width:
            yield SourceRecord(position=position, raw=row, kind="csv",
                               problem=f"row has {len(row)} fields where the header has {width}")
            continue
        record: dict[str, str] = {}
        for name, cell in zip(header, row):
            if name not in record or not record[name]:
                record[name] = cell
        yield SourceRecord(position=position, raw=record, kind="csv")
