"""``--format auto``: telling the kind of a snapshot from its first bytes and name.

Content wins over the name (portals serve XLSX files named ``.csv``). JSON is one
family until parsed: a DCAT catalog (``{"dataset": [...]}`` with DCAT datasets, or a
bare list of them) is told apart from a portal export by looking at the records.
"""
from __future__ import annotations

from typing import Any

FORMATS: tuple[str, ...] = ("portal-json", "portal-csv", "portal-xlsx", "dcat-json")
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
