"""Field mapping: which raw label of a portal export feeds which dataset field.

A mapping is a FLAT JSON object ``{"source label": "dataset field"}``. The built-in
default (``default_mapping.json``) covers every label of the CNPDS portal exports,
Sichuan Aba's English API keys, the HDR UK Gateway CSV columns, the Taiwanese city
catalogs and the main fields of a CKAN package. ``null`` marks a label deliberately
ignored (contacts, counters).

- Several labels may feed one field. For single-valued fields (title, dates, open
  type …) the first label *in mapping order* whose value normalises to something
  wins, so the order of the file is the order of preference. Multi-valued fields
  (themes, tags, formats) take the union of every label's values.
- A user mapping (``--mapping FILE``) overlays the default: its labels come first,
  and mapping a label to ``null`` switches a default label off.
- A label with dots (``summary.title``) reaches into a nested object, including a
  cell that holds a JSON or Python dict literal (HDR UK's 2021 CSV layout).
- Labels match exactly, else after trimming spaces and a trailing colon (``：``)
  and ignoring ASCII case.
"""
from __future__ import annotations

import ast
import json
from importlib import resources
from pathlib import Path
from typing import Any

MAPPABLE_FIELDS: tuple[str, ...] = (
    "native_id", "title", "description", "publisher", "region", "themes", "tags", "formats",
    "open_type", "update_frequency", "license", "created", "modified", "record_count",
    "landing_page",
)


class MappingError(ValueError):
    """A mapping file that cannot be used; the message says why."""


def _normal_label(label: str) -> str:
    return label.strip().rstrip(":：").strip().lower()


def _as_object(value: Any) -> Any:
    """A nested object from a dict, or from a cell holding a dict/list literal."""
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
    return None


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step)
    return obj


Target = tuple[str, int]  # (field, priority: lower is preferred)
Nested = list[tuple[tuple[str, ...], str, int]]  # (path inside the value, field, priority)
Plan = list[tuple[str, list[tuple[str, tuple[str, ...] | None]]]]  # field → (label, path)


class FieldMapping:
    """An ordered label → field mapping, applied to raw records."""

    def __init__(self, labels: dict[str, str | None]) -> None:
        self.labels = dict(labels)
        self._direct: dict[str, Target] = {}
        self._nested: dict[str, Nested] = {}
        self._ignored = {_normal_label(label) for label, field in self.labels.items()
                         if field is None}
        for priority, (label, field) in enumerate(self.labels.items()):
            if field is None:
                continue
            key = _normal_label(label)
            self._direct.setdefault(key, (field, priority))
            if "." in label:
                head, *rest = label.split(".")
                nested = self._nested.setdefault(_normal_label(head), [])
                nested.append((tuple(rest), field, priority))
        # raw label → (direct target or None, nested paths): resolved once per label.
        self._resolved: dict[str, tuple[Target | None, Nested]] = {}
        self.unmapped: set[str] = set()
        self._plans: dict[tuple[Any, ...], Plan] = {}

    def _resolve(self, label: str) -> tuple[Target | None, Nested]:
        found = self._resolved.get(label)
        if found is None:
            key = _normal_label(label)
            found = (self._direct.get(key), self._nested.get(key, []))
            self._resolved[label] = found
            if found[0] is None and not found[1] and key not in self._ignored:
                self.unmapped.add(label)
        return found

    def _plan(self, labels: tuple[Any, ...]) -> Plan:
        """For one layout of record (its labels in order): each field with the labels
        (and nested paths) that feed it, most preferred first."""
        entries: dict[str, list[tuple[int, str, tuple[str, ...] | None]]] = {}
        for label in labels:
            if not isinstance(label, str):
                continue
            target, nested = self._resolve(label)
            if target is not None:
                entries.setdefault(target[0], []).append((target[1], label, None))
            for path, field, priority in nested:
                entries.setdefault(field, []).append((priority, label, path))
        return [(field, [(label, path) for _, label, path in sorted(found, key=lambda e: e[0])])
                for field, found in entries.items()]

    def apply(self, raw: dict[str, Any]) -> dict[str, list[Any]]:
        """field → candidate values, in order of preference."""
        layout = tuple(raw)
        plan = self._plans.get(layout)
        if plan is None:
            # The records of one export share their labels: plan once per layout.
            if len(self._plans) > 1000:
                self._plans.clear()
            plan = self._plans[layout] = self._plan(layout)
        mapped: dict[str, list[Any]] = {}
        for field, sources in plan:
            values = []
            for label, path in sources:
                if path is None:
                    values.append(raw[label])
                else:
                    inner = _dig(_as_object(raw[label]), path)
                    if inner is not None:
                        values.append(inner)
            if values:
                mapped[field] = values
        return mapped


def default_labels() -> dict[str, str | None]:
    """The built-in mapping, in its order of preference."""
    text = resources.files("search").joinpath("default_mapping.json").read_text(encoding="utf-8")
    return json.loads(text)


def _validate(labels: Any, where: str) -> dict[str, str | None]:
    if not isinstance(labels, dict):
        raise MappingError(
            f'{where}: a mapping must be a JSON object {{"source label": "dataset field"}}')
    for label, field in labels.items():
        if field is not None and not isinstance(field, str):
            raise MappingError(
                f"{where}: the field for {label!r} must be a string or null, got {field!r}")
        if field is not None and field not in MAPPABLE_FIELDS:
            raise MappingError(
                f"{where}: {label!r} maps to unknown field {field!r}; "
                f"known fields: {', '.join(MAPPABLE_FIELDS)} (or null to ignore the label)"
            )
    return labels


def load_mapping(path: str | Path | None = None) -> FieldMapping:
    """The default mapping, overlaid by the user's mapping file at ``path`` if given."""
    labels = _validate(default_labels(), "default_mapping.json")
    if path is None:
        return FieldMapping(labels)
    file = Path(path)
    try:
        user = json.loads(file.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise MappingError(f"mapping file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MappingError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    user = _validate(user, str(path))
    # The user's labels first (preferred), then the default's labels they do not mention.
    merged = dict(user)
    mentioned = {_normal_label(label) for label in user}
    for label, field in labels.items():
        if _normal_label(label) not in mentioned:
            merged[label] = field
    return FieldMapping(merged)
