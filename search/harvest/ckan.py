"""CKAN portals through the Action API: ``package_search``, paged, full or incremental.

The first pass lists every package; later passes ask only for packages whose
``metadata_modified`` is after the newest one seen (an incremental pass cannot see
deletions, so it removes nothing). Every ``full_every`` seconds, or when forced
(``sources run NAME --full``), a full listing runs again and packages gone from the
portal are tombstoned. The state between passes lives on the source (``state``):
``{"last_modified": "<newest metadata_modified seen>", "last_full_at": "<ISO time>"}``.

Pages are keyset-paged on ``metadata_modified`` (ascending, ties by id) rather than
by offset alone: a package edited while the pass runs moves to the end and is seen
again instead of shifting a neighbour out of the listing.

Mapping: organisation → publisher, groups → themes, tags, licence title, resources
(name, format, url, size), ``metadata_created`` / ``metadata_modified``, the dataset's
portal page as landing page, a ``frequency`` extra as update frequency.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from search.harvest.fetch import decode_text, open_location, read_all
from search.harvest.http import FetchPolicy
from search.harvest.records import HarvestError, SourceRecord

SEARCH_PATH = "/api/3/action/package_search"
PAGE_ROWS = 100
MAX_PAGES = 100_000
ORDER = "metadata_modified asc, id asc"


@dataclass
class CkanPass:
    """What one pass over a CKAN portal found."""

    records: list[SourceRecord]
    full: bool  # a full listing: packages missing from it were deleted
    state: dict[str, Any]
    pages: int = 0
    bytes_read: int = 0
    http_status: int | None = None
    packages_returned: list[str] = field(default_factory=list)


def api_base(location: str) -> str:
    """The portal's base URL from what the user gave (base, or an API URL)."""
    base = location.strip().rstrip("/")
    for tail in (SEARCH_PATH, "/api/3/action", "/api/3", "/api/action", "/api"):
        if base.endswith(tail):
            return base[: -len(tail)]
    return base


def _moment(value: str) -> datetime | None:
    """A CKAN timestamp as a naive UTC datetime (CKAN writes UTC without an offset)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def solr_time(value: str) -> str:
    """A CKAN timestamp (``2016-12-19T18:19:32.496552``, UTC) as a Solr date."""
    moment = _moment(value)
    if moment is None:
        raise HarvestError(f"CKAN metadata_modified {value!r} is not an ISO date")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def wants_full(state: dict[str, Any], force: bool, now: datetime, full_every: float) -> bool:
    """Whether this pass must be a full listing."""
    if force or not state.get("last_modified") or not state.get("last_full_at"):
        return True
    try:
        last_full = datetime.fromisoformat(str(state["last_full_at"]))
    except ValueError:
        return True
    if last_full.tzinfo is None:
        last_full = last_full.replace(tzinfo=UTC)
    return (now - last_full).total_seconds() >= full_every


def _page(base: str, params: dict[str, Any], headers: dict[str, str], policy: FetchPolicy,
          found: CkanPass) -> dict[str, Any]:
    url = f"{base}{SEARCH_PATH}?{urlencode(params)}"
    with open_location(url, headers=headers, policy=policy) as snapshot:
        body = read_all(snapshot)
        found.bytes_read += snapshot.bytes_read or 0
        found.http_status = snapshot.http_status
    try:
        answer = json.loads(decode_text(body, url))
    except json.JSONDecodeError as exc:
        raise HarvestError(f"{url} is not a CKAN API answer: not JSON ({exc.msg})") from None
    if not isinstance(answer, dict) or answer.get("success") is not True:
        error = answer.get("error") if isinstance(answer, dict) else None
        raise HarvestError(f"{url}: the CKAN API answered with an error: {error or answer!r:.300}")
    result = answer.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("results"), list):
        raise HarvestError(f"{url}: the CKAN answer has no result.results list")
    found.pages += 1
    return result


def read_ckan(location: str, *, headers: dict[str, str] | None = None,
              state: dict[str, Any] | None = None, force_full: bool = False,
              now: datetime | None = None, full_every: float = 24 * 3600,
              policy: FetchPolicy | None = None) -> CkanPass:
    """One pass over the portal at ``location``: the packages as records, and the state
    to keep for the next pass. Raises HarvestError when the API cannot be read."""
    policy = policy or FetchPolicy.current()
    state = dict(state or {})
    now = now or datetime.now(UTC)
    base = api_base(location)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarvestError(f"a CKAN source needs the portal's http(s) base URL, got {location!r}")
    full = wants_full(state, force_full, now, full_every)
    found = CkanPass(records=[], full=full, state=state)
    packages: dict[str, dict[str, Any]] = {}
    broken: list[SourceRecord] = []  # answers that are not packages: quarantined
    newest = None if full else str(state["last_modified"])
    # An incremental pass starts strictly after the newest package seen ("{" excludes).
    lower = "*" if full else "{" + solr_time(str(newest))
    skip = 0
    ends_at = time.monotonic() + policy.deadline
    for _ in range(MAX_PAGES):
        left = ends_at - time.monotonic()
        if left <= 0:
            raise HarvestError(f"{base}: the CKAN listing did not finish within {policy.deadline:g} s "
                               "(SCENEWATCH_HARVEST_TIMEOUT)")
        bound = "[*" if lower == "*" else lower
        params = {"q": "*:*", "fq": f"metadata_modified:{bound} TO *]", "sort": ORDER,
                  "rows": PAGE_ROWS, "start": skip}
        result = _page(base, params, dict(headers or {}),
                       dataclasses.replace(policy, deadline=left), found)
        rows = _collect(result["results"], packages, broken, found)
        if len(result["results"]) < PAGE_ROWS:
            break
        last = str(rows[-1].get("metadata_modified") or "") if rows else ""
        key = _solr_or_none(last)
        if key is None:
            skip += len(result["results"])  # no usable key to page on: plain offsets
            continue
        ties = sum(1 for r in rows if str(r.get("metadata_modified") or "") == last)
        if lower.startswith("[") and key == lower[1:]:
            skip += len(result["results"])  # a whole page on one timestamp
        else:
            lower, skip = "[" + key, ties
    else:
        raise HarvestError(f"{base}: more than {MAX_PAGES} pages of packages; stopped")
    newest_moment = _moment(newest) if newest else None
    for number, package in enumerate(packages.values(), start=1):
        modified = str(package.get("metadata_modified") or "")
        moment = _moment(modified)
        if moment is not None and (newest_moment is None or moment > newest_moment):
            newest, newest_moment = modified, moment
        found.records.append(SourceRecord(position=f"package {number} ({package.get('name', '')})",
                                          raw=package, mapped=map_package(package, base)))
    found.records.extend(broken)
    found.state = {**state, "last_modified": newest,
                   "last_full_at": now.isoformat() if full else state.get("last_full_at")}
    return found


def _solr_or_none(value: str) -> str | None:
    try:
        return solr_time(value) if value else None
    except HarvestError:
        return None


def _collect(results: list[Any], packages: dict[str, dict[str, Any]], broken: list[SourceRecord],
             found: CkanPass) -> list[dict[str, Any]]:
    """Keep the page's packages by id (a package seen twice, edited meanwhile: the later
    one); what is not a package with an id becomes a quarantined record."""
    rows = []
    for item in results:
        key = str(item.get("id") or item.get("name") or "") if isinstance(item, dict) else ""
        if not key:
            what = "has no id or name" if isinstance(item, dict) else \
                f"is a JSON {type(item).__name__}, not a package object"
            broken.append(SourceRecord(position=f"answer item {len(found.packages_returned) + len(broken) + 1}",
                                       raw=item, problem=f"CKAN result {what}"))
            continue
        rows.append(item)
        packages[key] = item
        found.packages_returned.append(key)
    return rows


def _texts(values: Any, *keys: str) -> list[Any]:
    out: list[Any] = []
    for value in values or []:
        if isinstance(value, dict):
            out.append(next((value[k] for k in keys if value.get(k)), ""))
        else:
            out.append(value)
    return out


def _resources(package: dict[str, Any]) -> list[dict[str, Any]]:
    resources = []
    for resource in package.get("resources") or []:
        if isinstance(resource, dict):
            resources.append({"name": resource.get("name") or resource.get("description") or "",
                              "format": resource.get("format") or resource.get("mimetype") or "",
                              "url": resource.get("url") or "", "size": resource.get("size")})
    return resources


def map_package(package: dict[str, Any], base: str) -> dict[str, list[Any]]:
    """One CKAN package dict as field → candidate values (what the normaliser expects)."""
    organisation = package.get("organization") if isinstance(package.get("organization"), dict) else {}
    extras = {str(e.get("key")): e.get("value") for e in package.get("extras") or []
              if isinstance(e, dict)}
    resources = _resources(package)
    name = package.get("name")
    return {
        "native_id": [package.get("id") or name],
        "title": [package.get("title") or name],
        "description": [package.get("notes")],
        "publisher": [organisation.get("title") or organisation.get("name"),  # type: ignore[union-attr]
                      package.get("author"), package.get("maintainer")],
        "themes": _texts(package.get("groups"), "display_name", "title", "name"),
        "tags": _texts(package.get("tags"), "display_name", "name"),
        "formats": [r["format"] for r in resources],
        "resources": [resources],
        "update_frequency": [extras.get("frequency"), extras.get("accrualPeriodicity"),
                             package.get("frequency")],
        "license": [package.get("license_title"), package.get("license_id")],
        "created": [package.get("metadata_created")],
        "modified": [package.get("metadata_modified")],
        "landing_page": [f"{base}/dataset/{name}" if name else package.get("url")],
    }
