"""The pure diff of a scene's result set between two runs.

Input: what the scene matched before and what it matches now, each a mapping
``dataset id → Member`` (version id + the dataset's content at that version).
Output: a :class:`SceneDiff` with

* ``added``   — matches now, did not before;
* ``removed`` — matched before, not now, with the reason: ``deleted_from_catalog``
  when the dataset left the catalog, else ``no_longer_matches``;
* ``changed`` — matches in both and a *tracked* field differs; each change lists the
  field with its old and new value (``resources`` also says which resources were
  added, removed or changed, keyed by URL);
* ``moved``   — a removed and an added dataset that are the same dataset under a new
  id (a source that re-keyed its records): same landing page, else same title and
  publisher. They are reported once as moved, not as removed + added.

So ``added ∪ moved.to == now − before`` and ``removed ∪ moved.from == before − now``.
Nothing here touches the database or the clock, so the rules can be tested directly.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NO_LONGER_MATCHES = "no_longer_matches"
DELETED_FROM_CATALOG = "deleted_from_catalog"


@dataclass(frozen=True)
class Member:
    """One dataset as a scene saw it: its version and content at that version."""

    dataset_id: str
    version_id: int
    content: Mapping[str, Any]


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any
    detail: dict[str, Any] | None = None  # resources: added / removed / changed by url

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "old": self.old, "new": self.new}
        if self.detail:
            out.update(self.detail)
        return out


@dataclass
class SceneDiff:
    added: list[Member] = field(default_factory=list)
    removed: list[tuple[Member, str]] = field(default_factory=list)
    changed: list[tuple[Member, list[FieldChange]]] = field(default_factory=list)
    moved: list[tuple[Member, Member, list[FieldChange]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved)


def _resources_by_url(resources: Iterable[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    keyed: dict[str, Mapping[str, Any]] = {}
    for position, resource in enumerate(resources or []):
        # Resources without a URL are keyed by name (then position) so they still diff.
        key = resource.get("url") or f"name:{resource.get('name') or position}"
        keyed[str(key)] = resource
    return keyed


def resource_changes(old: Sequence[Mapping[str, Any]] | None,
                     new: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Which resources were added, removed or changed, keyed by URL."""
    before, after = _resources_by_url(old), _resources_by_url(new)
    return {
        "added": [dict(after[k]) for k in after if k not in before],
        "removed": [dict(before[k]) for k in before if k not in after],
        "changed": [
            {"url": k, "old": dict(before[k]), "new": dict(after[k])}
            for k in after if k in before and dict(before[k]) != dict(after[k])
        ],
    }


def _same(old: Any, new: Any) -> bool:
    # Lists of scalars (formats, tags, themes) are sets to a reader: order is noise.
    if isinstance(old, list) and isinstance(new, list) and all(not isinstance(v, (dict, list)) for v in old + new):
        return sorted(map(str, old)) == sorted(map(str, new))
    return old == new


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any], tracked: Sequence[str]) -> list[FieldChange]:
    """The tracked fields whose value differs between two contents, in ``tracked`` order."""
    changes: list[FieldChange] = []
    for name in tracked:
        before, after = old.get(name), new.get(name)
        if _same(before, after):
            continue
        detail = resource_changes(before, after) if name == "resources" else None
        changes.append(FieldChange(name, before, after, detail))
    return changes


def _identity_keys(content: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Keys that say two ids are one dataset: landing page first, then title + publisher."""
    keys: list[tuple[str, ...]] = []
    landing = str(content.get("landing_page") or "").strip().rstrip("/").lower()
    if landing:
        keys.append(("landing_page", landing))
    title = str(content.get("title") or "").strip().lower()
    if title:
        keys.append(("title_publisher", title, str(content.get("publisher") or "").strip().lower()))
    return keys


def pair_moves(removed: Sequence[Member], added: Sequence[Member]) -> list[tuple[Member, Member]]:
    """One-to-one pairs (old, new) of removed and added members that share an identity key.

    A key shared by several removed or several added members is ambiguous (a portal
    that gives many datasets one landing page); such keys pair nothing, and the next,
    weaker key is tried for those members.
    """
    pairs: list[tuple[Member, Member]] = []
    taken_old: set[str] = set()
    taken_new: set[str] = set()
    for rank in ("landing_page", "title_publisher"):
        olds: dict[tuple[str, ...], list[Member]] = defaultdict(list)
        news: dict[tuple[str, ...], list[Member]] = defaultdict(list)
        for member in removed:
            if member.dataset_id not in taken_old:
                for key in _identity_keys(member.content):
                    if key[0] == rank:
                        olds[key].append(member)
        for member in added:
            if member.dataset_id not in taken_new:
                for key in _identity_keys(member.content):
                    if key[0] == rank:
                        news[key].append(member)
        for key in sorted(olds.keys() & news.keys()):
            if len(olds[key]) == 1 and len(news[key]) == 1:
                old, new = olds[key][0], news[key][0]
                pairs.append((old, new))
                taken_old.add(old.dataset_id)
                taken_new.add(new.dataset_id)
    return pairs


def compute_diff(
    before: Mapping[str, Member],
    now: Mapping[str, Member],
    tracked: Sequence[str],
    deleted_ids: Iterable[str] = (),
) -> SceneDiff:
    """Diff two result sets of one scene (see the module docstring for the rules).

    ``deleted_ids`` are datasets that are now tombstoned in the catalog; they explain
    why a member was removed.
    """
    deleted = set(deleted_ids)
    gone = [before[i] for i in sorted(before.keys() - now.keys())]
    new = [now[i] for i in sorted(now.keys() - before.keys())]
    moves = pair_moves(gone, new)
    moved_from = {old.dataset_id for old, _ in moves}
    moved_to = {new_member.dataset_id for _, new_member in moves}
    diff = SceneDiff()
    diff.moved = [(old, new_member, field_changes(old.content, new_member.content, tracked))
                  for old, new_member in moves]
    diff.added = [m for m in new if m.dataset_id not in moved_to]
    diff.removed = [
        (m, DELETED_FROM_CATALOG if m.dataset_id in deleted else NO_LONGER_MATCHES)
        for m in gone if m.dataset_id not in moved_from
    ]
    for dataset_id in sorted(before.keys() & now.keys()):
        old, current = before[dataset_id], now[dataset_id]
        if old.version_id == current.version_id:
            continue
        changes = field_changes(old.content, current.content, tracked)
        if changes:
            diff.changed.append((current, changes))
    return diff
