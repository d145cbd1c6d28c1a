"""``--format auto``: telling the kind of a snapshot from its first bytes and name.

RDF (Turtle, RDF/XML, JSON-LD) is ``dcat-rdf``; a URL that names no file and whose
CKAN Action API answers is ``ckan``.

Content wins over the name (portals serve XLSX files named ``.csv``). JSON is one
family until parsed: a DCAT catalog (``{"dataset": [...]}`` with DCAT datasets, or a
bare list of them) is told apart from a portal export by looking at the records.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

FORMATS: tuple[str, ...] = ("portal-json", "portal-csv", "portal-xlsx", "dcat-json", "dcat-rdf",
                            "ckan")
RDF_NAMES = (".ttl", ".rdf", ".owl", ".nt", ".n3", ".jsonld")
JSON_FAMILY = "json"
ZIP_MAGIC = b"PK\x03\x04"
# Keys only a DCAT dataset has; a portal export row has none of them.
DCAT_DATASET_KEYS = frozenset({"distribution", "accessLevel", "accrualPeriodicity", "landingPage"})


class UnknownFormat(ValueError):
    pass


def sniff_format(name: str, head: bytes) -> str:
    """``portal-xlsx``, ``portal-csv`` or :data:`JSON_FAMILY` for a snapshot's first bytes."""
    if head.startswith(ZIP_MAGIC):
        return "portal-xlsx"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _looks_like_rdf(name, stripped):
        return "dcat-rdf"
    if stripped[:1] in (b"{", b"["):
        return JSON_FAMILY
    if name.endswith((".csv", ".tsv", ".txt")):
        return "portal-csv"
    if name.endswith(".json"):
        return JSON_FAMILY
    if name.endswith((".xlsx", ".xlsm")):
        return "portal-xlsx"
    first_line = stripped.split(b"\n", 1)[0]
    if any(sep in first_line for sep in (b",", b"\t", b";")):
        return "portal-csv"
    raise UnknownFormat("cannot tell the format from the name or content; pass --format")


def _looks_like_rdf(name: str, stripped: bytes) -> bool:
    """Turtle (prefix/base lines) or RDF/XML (an ``rdf:RDF`` root), or an RDF file name."""
    if name.endswith(RDF_NAMES):
        return True
    if re.match(rb"(@prefix|@base|prefix\s|base\s)", stripped, re.IGNORECASE):
        return True
    return stripped.startswith(b"<") and b"rdf:RDF" in stripped[:4096] or \
        b"http://www.w3.org/1999/02/22-rdf-syntax-ns#" in stripped[:4096] and stripped.startswith(b"<")


def looks_like_ckan(location: str, headers: dict[str, str] | None = None) -> bool:
    """True when ``location`` is a portal base URL (or API URL) whose CKAN Action API
    answers ``package_search``. A URL naming a file is not asked."""
    from search.harvest.ckan import SEARCH_PATH, api_base
    from search.harvest.fetch import open_location, read_all
    from search.harvest.records import HarvestError

    path = urlsplit(location).path
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "." in last and not path.endswith(SEARCH_PATH):
        return False  # a file such as catalog.json or data.csv
    probe = f"{api_base(location)}{SEARCH_PATH}?rows=0"
    try:
        with open_location(probe, headers=headers) as snapshot:
            answer = json.loads(bytes(read_all(snapshot))[:1 << 20])
    except (HarvestError, ValueError, OSError):
        return False
    return isinstance(answer, dict) and answer.get("success") is True and \
        isinstance(answer.get("result"), dict) and "count" in answer["result"]


def _looks_like_dcat_dataset(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if str(item.get("@type", "")).lower() == "dcat:dataset":
        return True
    return "identifier" in item and bool(DCAT_DATASET_KEYS.intersection(item))


def is_dcat(values: list[Any]) -> bool:
    """True when the parsed JSON values are a DCAT ``data.json`` catalog."""
    if len(values) != 1:
        return False
    value = values[0]
    if isinstance(value, dict):
        datasets = value.get("dataset")
        if not isinstance(datasets, list):
            return False
        if not datasets:
            return "conformsTo" in value or "@context" in value
        sample = datasets[:20]
        return sum(_looks_like_dcat_dataset(d) for d in sample) * 2 > len(sample)
    if isinstance(value, list) and value:
        sample = value[:20]
        return sum(_looks_like_dcat_dataset(d) for d in sample) * 2 > len(sample)
    return False
