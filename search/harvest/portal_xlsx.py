"""Portal XLSX exports, read with openpyxl in read-only mode (rows are streamed).

The header is the first row with at least two filled cells (exports often start with
a title row). Later sheets with the same header are read too (paged exports); sheets
with another layout (notes, code lists) are skipped.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from search.harvest.records import HarvestError, SourceRecord

HEADER_SEARCH_ROWS = 20


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _is_header(row: tuple[Any, ...]) -> bool:
    return sum(1 for v in row if isinstance(v, str) and v.strip()) >= 2


def read_xlsx(data: bytes, location: str) -> Iterator[SourceRecord]:
    """The data rows of an XLSX snapshot as records keyed by the header's labels."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise HarvestError(f"{location} is not a readable XLSX workbook ({exc})") from None
    try:
        first_header: list[str] | None = None
        for sheet in workbook.worksheets:
            header: list[str] | None = None
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                if header is None:
                    if number > HEADER_SEARCH_ROWS:
                        break
                    if _is_header(row):
                        header = [str(v).strip() if v is not None else f"column {i + 1}"
                                  for i, v in enumerate(row)]
                        if first_header is None:
                            first_header = header
                        elif header != first_header:
                            break  # another layout: not part of the catalog
                    continue
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
                    continue
                values = [_cell(v) for v in row]
                record = {name: values[i] if i < len(values) else ""
                          for i, name in enumerate(header)}
                yield SourceRecord(position=f"sheet {sheet.title} row {number}", raw=record,
                                   kind="xlsx")
        if first_header is None:
            raise HarvestError(f"{location}: no sheet has a header row")
    finally:
        workbook.close()
