"""Bulk scenes: JSON Lines, one scene a line, each validated like ``scenes create``.

A line is an object with ``name``, ``query`` and ``schedule`` and, optionally,
``email``, ``webhook``, ``tracked_fields`` and ``timezone``. A bad line is reported
with its number, the field and the reason, and the other lines are still saved;
a line repeating a scene the owner already has (same name and query) is skipped,
so importing a file twice does not double anything. Every saved scene gets its
baseline before the import returns: its first run reports what changed after it.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscriptions.models import Scene, User
from subscriptions.scenes import SceneError, create_scene

REQUIRED = ("name", "query", "schedule")
OPTIONAL = ("email", "webhook", "tracked_fields", "timezone")


@dataclass
class LineProblem:
    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did: scenes saved (with their baseline), lines skipped and refused."""

    imported: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    errors: list[LineProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in self.errors],
        }


def _read_line(number: int, text: str) -> tuple[dict[str, Any] | None, list[LineProblem]]:
    """The scene fields of one line (None when they cannot be validated further) and
    the problems found so far; an unknown key alone still lets the rest be checked."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [LineProblem(number, "line", f"not valid JSON ({exc.msg} at column {exc.colno})")]
    if not isinstance(data, dict):
        return None, [LineProblem(number, "line", "must be a JSON object, one scene a line")]
    unknown = [LineProblem(number, str(key), f"is not a scene field (use {', '.join(REQUIRED + OPTIONAL)})")
               for key in data if key not in REQUIRED + OPTIONAL]
    problems = [LineProblem(number, key, "is required") for key in REQUIRED if key not in data]
    for key in ("name", "schedule", "email", "webhook", "timezone"):
        if data.get(key) is not None and not isinstance(data[key], str):
            problems.append(LineProblem(number, key, "must be a string"))
    tracked = data.get("tracked_fields")
    if tracked is not None and not (isinstance(tracked, list) and all(isinstance(t, str) for t in tracked)):
        problems.append(LineProblem(number, "tracked_fields", "must be a list of field names"))
    if problems:
        return None, unknown + problems
    return data, unknown


def _existing(session: Session, owner: User) -> set[tuple[str, str]]:
    return {(name, json.dumps(query, sort_keys=True, ensure_ascii=False))
            for name, query in session.execute(select(Scene.name, Scene.query).where(Scene.owner_id == owner.id))}


def save_scenes(session: Session, owner: User, lines: Iterable[str], *,
                now: datetime | None = None) -> ImportReport:
    """Validate and add every good line's scene to ``session`` (baselines not yet taken).

    Each line is tried in its own savepoint, so a refused line leaves nothing behind.
    """
    now = now or datetime.now(UTC)
    report = ImportReport()
    seen = _existing(session, owner)
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        data, problems = _read_line(number, text)
        if data is None:
            report.errors.extend(problems)
            continue
        savepoint = session.begin_nested()
        try:
            created = create_scene(
                session, owner, name=data["name"], query=data["query"], schedule=data["schedule"],
                timezone_name=data.get("timezone"), tracked_fields=data.get("tracked_fields"),
                email=data.get("email"), email_verified=True, webhook=data.get("webhook"), now=now)
        except SceneError as exc:
            savepoint.rollback()
            report.errors.extend(problems)
            report.errors.extend(LineProblem(number, p.field, p.message) for p in exc.problems)
            continue
        if problems:
            savepoint.rollback()
            report.errors.extend(problems)
            continue
        key = (created.scene.name, json.dumps(created.scene.query, sort_keys=True, ensure_ascii=False))
        if key in seen:
            savepoint.rollback()
            report.skipped.append({"line": number, "name": data["name"],
                                   "reason": "this owner already has a scene with this name and query"})
            continue
        savepoint.commit()
        seen.add(key)
        entry: dict[str, Any] = {"line": number, "id": created.scene.id, "name": created.scene.name}
        secret = next((c.secret for c in created.channels if c.kind == "webhook"), None)
        if secret:
            entry["webhook_secret"] = secret
        report.imported.append(entry)
    return report


def take_baselines(scene_ids: list[int], *, now: datetime | None = None,
                   advance: Callable[[int], None] | None = None) -> list[int]:
    """Run each new scene once (its baseline: recorded, nothing sent); returns the
    ids whose baseline failed (they take it at their first run instead)."""
    from config.extensions import db
    from subscriptions.models import SceneRun
    from subscriptions.runner import run_scene

    failed = []
    for scene_id in scene_ids:
        with db.session() as session:  # saving a scene may already have taken it
            taken = session.scalar(select(SceneRun.id).where(SceneRun.scene_id == scene_id).limit(1))
        if taken is not None:
            if advance:
                advance(1)
            continue
        document = run_scene(scene_id, deliver=False, now=now)
        if document.get("run", {}).get("state") == "error":
            failed.append(scene_id)
        if advance:
            advance(1)
    return failed
