"""A CKAN Action API for tests: ``package_search`` over real records, on 127.0.0.1.

Packages are real DCAT data.json datasets (datos.gob.ar) converted to CKAN package
dicts. ``package_search`` honours ``rows``, ``start``, ``sort`` (metadata_modified or
name, asc/desc, ties by id) and an ``fq`` range on ``metadata_modified`` with inclusive
``[`` or exclusive ``{`` lower bounds, like Solr. Every answer is logged with the ids
it returned, so a test can tell which packages a harvest asked for.
"""
from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

from tests.http_catalog import HttpCatalog, LoggedRequest, Reply

SEARCH = "api/3/action/package_search"
RANGE = re.compile(r"^metadata_modified:([\[{])(\S+) TO (\S+)([\]}])$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:90] or "dataset"


def _ckan_time(value: Any, fallback: str) -> str:
    """A DCAT date as CKAN writes metadata_modified: naive UTC with microseconds."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.fromisoformat(fallback)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def packages_from_datajson(catalog: dict[str, Any]) -> list[dict[str, Any]]:
    """The catalog's datasets as CKAN package dicts (organisation, groups, tags, ...)."""
    themes = {str(t.get("id")): t for t in catalog.get("themeTaxonomy") or [] if isinstance(t, dict)}
    packages = []
    for dataset in catalog.get("dataset") or []:
        publisher = dataset.get("publisher") or {}
        name = _slug(str(dataset.get("title") or dataset["identifier"])) + "-" + \
            _slug(str(dataset["identifier"]))[:8]
        groups = [{"name": str(t), "display_name": (themes.get(str(t)) or {}).get("label") or str(t)}
                  for t in dataset.get("theme") or []]
        resources = [{"id": f"{dataset['identifier']}-{i}", "name": d.get("title") or "",
                      "format": d.get("format") or "", "url": d.get("downloadURL") or d.get("accessURL") or "",
                      "size": d.get("byteSize")}
                     for i, d in enumerate(dataset.get("distribution") or []) if isinstance(d, dict)]
        created = _ckan_time(dataset.get("issued"), "2018-01-01T00:00:00")
        packages.append({
            "id": str(dataset["identifier"]), "name": name, "title": dataset.get("title"),
            "notes": dataset.get("description"),
            "organization": {"name": _slug(str(publisher.get("name") or "org")),
                             "title": publisher.get("name")},
            "groups": groups, "tags": [{"name": k, "display_name": k} for k in dataset.get("keyword") or []],
            "license_id": _slug(str(dataset.get("license") or catalog.get("license") or "")),
            "license_title": dataset.get("license") or catalog.get("license"),
            "resources": resources, "metadata_created": created,
            "metadata_modified": _ckan_time(dataset.get("modified"), created),
            "extras": [{"key": "frequency", "value": dataset["accrualPeriodicity"]}]
            if dataset.get("accrualPeriodicity") else [],
        })
    return packages


class CkanPortal:
    """``package_search`` over a mutable list of packages, served by :class:`HttpCatalog`."""

    def __init__(self, packages: list[dict[str, Any]]) -> None:
        self._lock = threading.Lock()
        self.packages = {p["id"]: dict(p) for p in packages}
        self.http = HttpCatalog()
        self.answers: list[tuple[LoggedRequest, list[str]]] = []  # request → ids returned

    def __enter__(self) -> CkanPortal:
        self.http.start()
        self.http.route(SEARCH, self._search)
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()

    @property
    def url(self) -> str:
        return self.http.base_url

    def edit(self, package_id: str, when: str, **fields: Any) -> None:
        """Change a package as the portal would: new fields, new metadata_modified."""
        with self._lock:
            self.packages[package_id].update(fields, metadata_modified=when)

    def delete(self, package_id: str) -> None:
        with self._lock:
            del self.packages[package_id]

    def returned_ids(self, since: int = 0) -> list[str]:
        """Every package id sent back since answer number ``since``."""
        return [i for _, ids in self.answers[since:] for i in ids]

    def _search(self, request: LoggedRequest) -> Reply:
        try:
            rows = int(request.param("rows") or 10)
            start = int(request.param("start") or 0)
        except ValueError:
            return _error("rows and start must be integers")
        with self._lock:
            found = list(self.packages.values())
        fq = request.param("fq")
        if fq:
            match = RANGE.match(fq)
            if not match:
                return _error(f"unsupported fq {fq!r}")
            opening, low, high, _ = match.groups()
            if low != "*":
                low_time = _solr(low)
                found = [p for p in found if _solr(p["metadata_modified"] + "Z") > low_time
                         or (opening == "[" and _solr(p["metadata_modified"] + "Z") == low_time)]
            if high != "*":
                found = [p for p in found if _solr(p["metadata_modified"] + "Z") <= _solr(high)]
        sort = (request.param("sort") or "metadata_modified desc").split(",")[0].split()
        field_name, direction = sort[0], (sort[1] if len(sort) > 1 else "asc")
        found.sort(key=lambda p: (str(p.get(field_name) or ""), p["id"]), reverse=direction == "desc")
        page = found[start:start + rows]
        self.answers.append((request, [p["id"] for p in page]))
        body = {"help": "package_search", "success": True,
                "result": {"count": len(found), "sort": " ".join(sort), "results": page}}
        return Reply(200, json.dumps(body, ensure_ascii=False).encode("utf-8"))


def _solr(value: str) -> str:
    """A date truncated to milliseconds, as Solr indexes it, comparable as text."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _error(message: str) -> Reply:
    body = {"success": False, "error": {"__type": "Validation Error", "message": message}}
    return Reply(409, json.dumps(body).encode())
