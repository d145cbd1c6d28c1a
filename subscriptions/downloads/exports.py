"""Which datasets a batch holds, and CSV / XLSX / JSON exports of them, streamed.

A *batch* is either a selection of one run (added, changed, all) or a scene's current
results. Datasets are read from the store a chunk at a time, each chunk in its own
short session, so neither memory nor a database transaction grows with the batch.
"""
from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from config.extensions import db
from notifier.tokens import object_stamp
from search.models import CONTENT_FIELDS, Dataset
from subscriptions.models import Scene, SceneMember, SceneRun

DATASET_CHUNK = 500
FLUSH_CHARS = 64 * 1024  # yield roughly this much text at a time
COPY_BYTES = 64 * 1024
XLSX_CELL_LIMIT = 32_767  # Excel refuses longer cells
SELECTIONS = ("added", "changed", "all")
# Excel treats a cell starting with one of these as a formula: a catalog title must
# never become one in a researcher's spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot carry (XLSX is XML); real catalogs do contain them.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Document = dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """The datasets of one download: a run's selection or a scene's current results.

    ``ids`` lists dataset ids in order; None means the scene's current members, which
    are read from the store in chunks rather than listed up front.
    """

    scene_id: int
    scene_name: str
    label: str  # short words for file names: "run-12-added", "current"
    ids: tuple[str, ...] | None = None
    run_id: int | None = None
    selection: str = "all"


def _diff_ids(diff: dict[str, Any], selection: str) -> tuple[str, ...]:
    if selection == "added":
        # A re-keyed dataset is new under its new id: it belongs with the additions.
        ids = [str(e.get("id")) for e in diff.get("added") or [] if e.get("id")]
        ids += [str(e.get("to")) for e in diff.get("moved") or [] if e.get("to")]
    else:
        ids = [str(e.get("id")) for e in diff.get("changed") or [] if e.get("id")]
    return tuple(dict.fromkeys(ids))


def run_batch(run_id: int, selection: str, stamp: int | None = None) -> Batch | None:
    """The batch a download link names, or None when the run no longer exists (or,
    given the link's creation ``stamp``, when the run with that id is another one)."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, not {selection!r}")
    with db.session() as session:
        run = session.get(SceneRun, run_id)
        if run is None or (stamp is not None and object_stamp(run.started_at) != stamp):
            return None
        scene = session.get(Scene, run.scene_id)
        if scene is None:
            return None
        ids = None if selection == "all" else _diff_ids(run.diff or {}, selection)
        return Batch(scene_id=scene.id, scene_name=scene.name, label=f"run-{run.id}-{selection}",
                     ids=ids, run_id=run.id, selection=selection)


def scene_batch(scene: Scene) -> Batch:
    """The batch of a scene's current results."""
    return Batch(scene_id=scene.id, scene_name=scene.name, label="current")


def _load_documents(ids: Sequence[str]) -> dict[str, Document]:
    # Only what a document holds: harvest bookkeeping (timestamps, hashes) is not read.
    wanted = [getattr(Dataset, name) for name in ("source", *CONTENT_FIELDS, "quality")]
    with db.session() as session:
        rows = session.scalars(select(Dataset).options(load_only(*wanted))
                               .where(Dataset.id.in_(list(ids))))
        return {row.id: row.to_document() for row in rows}


def _member_ids(scene_id: int, after: str, limit: int) -> list[str]:
    with db.session() as session:
        return list(session.scalars(
            select(SceneMember.dataset_id)
            .where(SceneMember.scene_id == scene_id, SceneMember.dataset_id > after)
            .order_by(SceneMember.dataset_id).limit(limit)))


def iter_documents(batch: Batch,
                   chunk_size: int = DATASET_CHUNK) -> Iterator[tuple[str, Document | None]]:
    """(dataset id, document) for every dataset of ``batch``; None for an id the
    catalog no longer has. Sessions are closed before anything is yielded."""
    if batch.ids is not None:
        for start in range(0, len(batch.ids), chunk_size):
            chunk = batch.ids[start:start + chunk_size]
            documents = _load_documents(chunk)
            for dataset_id in chunk:
                yield dataset_id, documents.get(dataset_id)
        return
    after = ""
    while True:  # keyset paging: each page is one cheap indexed query
        page = _member_ids(batch.scene_id, after, chunk_size)
        if not page:
            return
        documents = _load_documents(page)
        for dataset_id in page:
            yield dataset_id, documents.get(dataset_id)
        after = page[-1]


def present(rows: Iterable[tuple[str, Document | None]]) -> Iterator[Document]:
    """Only the documents (ids the catalog lost are left out of exports)."""
    return (doc for _id, doc in rows if doc is not None)


# --- columns -------------------------------------------------------------------------

def _joined(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value if v not in (None, ""))
    return "" if value is None else str(value)


def _quality(name: str) -> Callable[[Document], Any]:
    return lambda doc: (doc.get("quality") or {}).get(name)


COLUMNS: tuple[tuple[str, Callable[[Document], Any]], ...] = (
    ("id", lambda d: d.get("id")),
    ("title", lambda d: d.get("title")),
    ("publisher", lambda d: d.get("publisher")),
    ("region", lambda d: d.get("region")),
    ("open_type", lambda d: d.get("open_type")),
    ("update_frequency", lambda d: d.get("update_frequency")),
    ("formats", lambda d: _joined(d.get("formats"))),
    ("machine_readable", lambda d: d.get("machine_readable")),
    ("themes", lambda d: _joined(d.get("themes"))),
    ("tags", lambda d: _joined(d.get("tags"))),
    ("license", lambda d: d.get("license")),
    ("created", lambda d: d.get("created")),
    ("modified", lambda d: d.get("modified")),
    ("record_count", lambda d: d.get("record_count")),
    ("resource_count", lambda d: len(d.get("resources") or [])),
    ("size", lambda d: d.get("size")),
    ("quality_completeness", _quality("completeness")),
    ("quality_timeliness", _quality("timeliness")),
    ("quality_accuracy", _quality("accuracy")),
    ("landing_page", lambda d: d.get("landing_page")),
    ("source", lambda d: d.get("source")),
    ("description", lambda d: d.get("description")),
)
HEADER: tuple[str, ...] = tuple(name for name, _get in COLUMNS)


def row_values(doc: Document) -> list[Any]:
    """One export row for ``doc``, in HEADER order (lists joined with ", ")."""
    return [get(doc) for _name, get in COLUMNS]


def csv_cell(value: Any) -> Any:
    """``value`` made safe for a spreadsheet: text that Excel would run as a formula
    gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


# --- streamed writers ---------------------------------------------------------------

def coalesce(pieces: Iterable[str], size: int = FLUSH_CHARS) -> Iterator[bytes]:
    """UTF-8 bytes of ``pieces`` in chunks of about ``size``: fewer, larger writes."""
    buffer: list[str] = []
    held = 0
    for piece in pieces:
        buffer.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(buffer).encode("utf-8")
            buffer.clear()
            held = 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text, one line per piece (the BOM first, so Excel reads UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    yield "\ufeff" + out.getvalue()
    for row in rows:
        out.seek(0)
        out.truncate()
        writer.writerow([csv_cell(v) for v in row])
        yield out.getvalue()


def json_array(documents: Iterable[Document]) -> Iterator[str]:
    """A JSON array of ``documents``, one element per piece."""
    yield "["
    first = True
    for doc in documents:
        yield ("\n" if first else ",\n") + json.dumps(doc, ensure_ascii=False, default=str)
        first = False
    yield "\n]\n"


def iter_csv(documents: Iterable[Document]) -> Iterator[bytes]:
    """The documents as a CSV file (UTF-8 with BOM, CRLF lines)."""
    return coalesce(csv_lines(HEADER, (row_values(doc) for doc in documents)))


def iter_json(documents: Iterable[Document]) -> Iterator[bytes]:
    """The documents as one JSON array."""
    return coalesce(json_array(documents))


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return XML_ILLEGAL.sub("", value)[:XLSX_CELL_LIMIT]
    return value


def iter_xlsx(documents: Iterable[Document],
              about: Sequence[tuple[str, Any]] = ()) -> Iterator[bytes]:
    """The documents as an XLSX workbook ("datasets" sheet, plus an "about" sheet).

    openpyxl's write-only mode keeps rows in a temporary file, and the finished
    workbook is written to another one and sent from there: memory stays flat.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("datasets")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in HEADER:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for doc in documents:
        cells = []
        for value in row_values(doc):
            cell = WriteOnlyCell(sheet, value=_xlsx_value(value))
            if cell.data_type == "f":  # text that looks like a formula stays text
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    if about:
        info = workbook.create_sheet("about")
        for key, value in about:
            info.append([key, _xlsx_value(value)])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(COPY_BYTES):
            yield chunk


# --- one entry point for the views ----------------------------------------------------

EXPORT_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def stream_export(batch: Batch, fmt: str) -> Iterator[bytes]:
    """The datasets of ``batch`` as ``fmt`` (csv | xlsx | json), in chunks."""
    documents = present(iter_documents(batch))
    if fmt == "csv":
        return iter_csv(documents)
    if fmt == "json":
        return iter_json(documents)
    if fmt == "xlsx":
        about = [("scene", batch.scene_name), ("scene_id", batch.scene_id),
                 ("selection", batch.selection if batch.run_id else "current"),
                 ("run_id", batch.run_id), ("columns", ", ".join(HEADER)),
                 ("exported_at", datetime.now(UTC).isoformat(timespec="seconds"))]
        return iter_xlsx(documents, [(key, value) for key, value in about if value is not None])
    raise ValueError(f"export format must be one of {', '.join(EXPORT_TYPES)}, not {fmt!r}")
