"""A dataset's versions, each with its field-level differences from the one before.

The comparison is the scene diff's own (:func:`subscriptions.diff.field_changes`), so
the dataset page and the notifications agree on what "changed" means; this module
only adds, for lists of words, which items came and went.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from search.models import CONTENT_FIELDS
from subscriptions.diff import field_changes

LIST_FIELDS = ("themes", "tags", "formats")


def display_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The content fields that differ, as dicts ready for a template: ``field``,
    ``old``, ``new``, plus ``added``/``removed`` for word lists and
    ``added``/``removed``/``changed`` resources for ``resources``."""
    shown: list[dict[str, Any]] = []
    for change in field_changes(old, new, CONTENT_FIELDS):
        entry = change.to_dict()
        if (
            change.field in LIST_FIELDS
            and isinstance(change.old or [], list)
            and isinstance(change.new or [], list)
        ):
            before, after = list(change.old or []), list(change.new or [])
            entry["added"] = [v for v in after if v not in before]
            entry["removed"] = [v for v in before if v not in after]
        shown.append(entry)
    return shown


def version_history(versions: Sequence[Any]) -> list[dict[str, Any]]:
    """Versions newest first, each with its changes against the one before it
    (None for the oldest: it is when the dataset was first seen)."""
    ordered = sorted(versions, key=lambda v: (v.seen_at, v.id))
    entries = []
    previous = None
    for version in ordered:
        changes: list[dict[str, Any]] | None = (
            display_changes(previous.content or {}, version.content or {}) if previous else None
        )
        entries.append({"version": version, "changes": changes})
        previous = version
    return list(reversed(entries))
