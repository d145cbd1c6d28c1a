"""DCAT ``data.json`` catalogs (DCAT-US / Project Open Data, and the Argentine
profile used by datos.gob.ar), mapped straight to dataset fields.

Field by field: ``identifier`` is the native id; ``distribution`` becomes resources
{name, format, url, size}; ``publisher.name``; ``keyword`` → tags; ``theme`` →
themes (ids resolved through the catalog's ``themeTaxonomy`` when it has one);
``accrualPeriodicity`` (ISO 8601 ``R/P1M``) → update frequency; ``issued`` /
``modified``; ``landingPage``; ``license`` (falling back to the catalog's licence,
as the Argentine profile intends); ``accessLevel`` → open type.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from search.harvest.records import CUT_SHORT, CutShort, SourceRecord


def _taxonomy(catalog: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for entry in catalog.get("themeTaxonomy") or []:
        if isinstance(entry, dict) and entry.get("id") and entry.get("label"):
            labels[str(entry["id"])] = str(entry["label"])
    return labels


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _publisher(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value.get("name") or value.get("fn") or ""]
    return _as_list(value)


def _resource(distribution: Any) -> dict[str, Any] | None:
    if not isinstance(distribution, dict):
        return None
    return {
        "name": distribution.get("title") or distribution.get("fileName") or "",
        "format": distribution.get("format") or distribution.get("mediaType") or "",
        "url": distribution.get("downloadURL") or distribution.get("accessURL") or "",
        "size": distribution.get("byteSize"),
    }


def map_dataset(dataset: dict[str, Any], taxonomy: dict[str, str],
                catalog_license: Any = None) -> dict[str, list[Any]]:
    """One DCAT dataset as field → candidate values (what the normaliser expects)."""
    resources = [r for r in (_resource(d) for d in _as_list(dataset.get("distribution"))) if r]
    themes = [taxonomy.get(str(t), t) for t in _as_list(dataset.get("theme"))]
    return {
        "native_id": _as_list(dataset.get("identifier")),
        "title": _as_list(dataset.get("title")),
        "description": _as_list(dataset.get("description")),
        "publisher": _publisher(dataset.get("publisher")),
        "themes": themes,
        "tags": _as_list(dataset.get("keyword")),
        "formats": [r["format"] for r in resources],
        "resources": [resources],
        "open_type": _as_list(dataset.get("accessLevel")),
        "update_frequency": _as_list(dataset.get("accrualPeriodicity")),
        "license": _as_list(dataset.get("license")) + _as_list(catalog_license),
        "created": _as_list(dataset.get("issued")),
        "modified": _as_list(dataset.get("modified")),
        "landing_page": _as_list(dataset.get("landingPage")),
    }


def dcat_records(values: list[Any]) -> Iterator[SourceRecord]:
    """The datasets of a parsed catalog (an object with ``dataset``, or a bare list)."""
    value = values[0]
    catalog: dict[str, Any] = value if isinstance(value, dict) else {}
    datasets = catalog.get("dataset") if catalog else value
    taxonomy = _taxonomy(catalog)
    catalog_license = catalog.get("license")
    for index, dataset in enumerate(datasets or [], start=1):
        position = f"dataset {index}"
        if isinstance(dataset, CutShort):
            yield SourceRecord(position=position, raw=dataset.text, problem=CUT_SHORT)
            continue
        if not isinstance(dataset, dict):
            yield SourceRecord(position=position, raw=dataset,
                               problem=f"dataset is a JSON {type(dataset).__name__}, not an object")
            continue
        yield SourceRecord(position=position, raw=dataset,
                           mapped=map_dataset(dataset, taxonomy, catalog_license))
