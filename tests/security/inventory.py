"""Every route of the app, and a small world to attack them in.

The route list comes from ``app.url_map``, so routes other modules add later are
attacked too. Routes that need no owner are listed in ``PUBLIC`` with the reason;
every other route is owner-scoped and must give another user (or nobody) nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from config.extensions import db
from tests.security.conftest import csrf_token, register

# Endpoints without an owner check, and why that is right. Everything else must
# answer another user with nothing of the owner's.
PUBLIC: dict[str, str] = {
    "search_page.index": "the public catalog search",
    "datasets.show": "a public catalog dataset page",
    "health.healthz": "liveness probe, no user data",
    "auth.login": "the login form",
    "auth.register": "the registration form",
    "auth.logout": "ends the caller's own session only",
    "account.forgot": "asks for a reset mail; same answer for every address",
    "notifier.outbox": "lists only the viewer's own mail (notifier.outbox_access)",
    "api_docs_page.docs": "the API's reference page, no user data",
    "api-docs.openapi_json": "the OpenAPI document, no user data",
    "facets.icon": "the site icon",
}
# Endpoints whose authority is a secret in the URL (a signed token or a random feed
# key mailed to the owner): whoever holds the link may use it. Attacked with forged
# and other objects' tokens instead.
BY_SECRET: dict[str, str] = {
    "downloads.download": "signed, expiring download link from a notification",
    "downloads.export_by_token": "the same signed download link as a table",
    "downloads.feed": "random per-scene feed key (feed readers cannot log in)",
    "notifier.unsubscribe": "signed one-click unsubscribe link (RFC 8058)",
    "notifier.unsubscribe_post": "signed one-click unsubscribe link (RFC 8058)",
    "confirm.confirm_page": "signed double opt-in link sent to the address",
    "confirm.confirm_submit": "signed double opt-in link sent to the address",
    "account.reset": "signed, one-use password reset link sent to the address",
}
# Run last: they end the attacker's own session or account.
SELF_ENDING = ("auth.logout", "account.delete")
ARG_RE = re.compile(r"<(?:(?P<conv>[a-zA-Z_]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
MARKERS = ("alice-secret-scene", "alice-matrix@example.org", "alice-hook.example")


@dataclass
class World:
    """The owner's objects (alice) that the other user (bob) and nobody attack."""

    alice: FlaskClient
    bob: FlaskClient
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def value(self, endpoint: str, name: str, forged: bool) -> str:
        """The URL argument ``name`` of ``endpoint``, naming alice's object."""
        if name in self.ids:
            return str(self.ids[name])
        if name == "fmt":
            return "csv"
        if name == "dataset_id":
            return self.tokens["dataset_id"]
        token = self.tokens.get(f"{endpoint.split('.')[-1]}:{name}") or self.tokens.get(name, "x")
        return token[:-4] + "AAAA" if forged and len(token) > 8 else token


def arguments(rule: Rule) -> list[tuple[str, str]]:
    """(converter, name) of each URL argument of ``rule``."""
    return [(m.group("conv") or "default", m.group("name")) for m in ARG_RE.finditer(rule.rule)]


def build(rule: Rule, world: World, forged: bool = False,
          override: dict[str, str] | None = None) -> str:
    """The URL of ``rule`` naming alice's objects (``override`` replaces arguments)."""
    values = {name: world.value(rule.endpoint, name, forged) for _, name in arguments(rule)}
    values.update(override or {})
    # A "?" or "#" inside a value would end the path (dataset ids hold URLs).
    safe = {k: v.replace("?", "%3F").replace("#", "%23") for k, v in values.items()}
    return ARG_RE.sub(lambda m: safe[m.group("name")], rule.rule)


def routes(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method) of the app, GET and POST, self-ending ones last."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            found.append((rule, method))
    return sorted(found, key=lambda rm: (rm[0].endpoint in SELF_ENDING, rm[0].rule, rm[1]))


def form_for(client: FlaskClient) -> dict[str, Any]:
    """A form body that fills every field our forms have, with the client's CSRF token."""
    return {
        "csrf_token": csrf_token(client, "/login"),
        "name": "pwned", "email": "mallory@example.org", "password": "x" * 12,
        "password2": "x" * 12, "current_password": "x" * 12, "new_password": "y" * 12,
        "new_password2": "y" * 12, "confirm_email": "alice-matrix@example.org",
        "kind": "email", "target": "mallory@example.org", "schedule": "daily",
        "timezone": "UTC", "locale": "en", "q": "交通", "List-Unsubscribe": "One-Click",
    }


def _records(tmp_path: Path, changed: bool) -> str:
    from tests.helpers import sample_records

    rows = sample_records()[:30]
    if changed:
        rows = [dict(r, 资源名称=(r.get("资源名称") or "") + "（新）") for r in rows[:20]] + rows[20:]
    path = tmp_path / f"catalog-{int(changed)}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return str(path)


def make_world(app: Flask, tmp_path: Path) -> World:
    """Alice with a scene, two runs, a notification, mail in the outbox; Bob with an
    account of his own. Returns the world with alice's ids and link tokens."""
    from datetime import datetime

    from notifier.mailer import list_outbox
    from notifier.models import Channel
    from notifier.tokens import make_confirm_token, make_download_token, make_unsubscribe_token
    from search.harvest import run_harvest
    from search.models import Dataset
    from subscriptions.account import make_reset_token
    from subscriptions.models import SceneRun, User
    from subscriptions.run_now import start_run_now
    from subscriptions.scenes import create_scene

    settings = app.config["SCENEWATCH"]
    alice, bob = register_pair(app)
    run_harvest("hz", _records(tmp_path, changed=False), fmt="portal-json")
    now = datetime.now(UTC)
    with db.session() as s:
        owner = s.scalar(select(User).where(User.email == "alice-matrix@example.org"))
        assert owner is not None
        made = create_scene(s, owner, name="alice-secret-scene", query={}, schedule="manual",
                            email="alice-matrix@example.org", email_verified=True)
        hook = Channel(owner_id=owner.id, kind="webhook", target="https://alice-hook.example/hook",
                       secret="whsec_" + "A" * 32, verified=True, paused=True, created_at=now)
        s.add(hook)
        made.scene.channels.append(hook)
        s.flush()
        world = World(alice=alice, bob=bob, ids={"user": owner.id, "scene_id": made.scene.id,
                                                 "channel_id": made.channels[0].id})
    assert start_run_now(world.ids["scene_id"]).started  # the baseline
    run_harvest("hz", _records(tmp_path, changed=True), fmt="portal-json")
    document = start_run_now(world.ids["scene_id"]).document
    assert document is not None and document["run"]["state"] == "changed", document
    from notifier.models import Notification

    with db.session() as s:
        run = s.get(SceneRun, document["run"]["id"])
        channel = s.get(Channel, world.ids["channel_id"])
        owner = s.get(User, world.ids["user"])
        assert run is not None and channel is not None and owner is not None
        note = s.scalar(select(Notification).where(Notification.run_id == run.id,
                                                   Notification.channel_id == channel.id))
        assert note is not None
        world.ids.update(run_id=run.id, notification_id=note.id)
        download = make_download_token(run.id, "all", settings, started_at=run.started_at)
        world.tokens.update({
            "download:token": download, "export_by_token:token": download,
            "feed:feed_token": run.scene.feed_token,
            "unsubscribe:token": make_unsubscribe_token(channel.id, settings, created_at=channel.created_at),
            "unsubscribe_post:token": make_unsubscribe_token(channel.id, settings,
                                                             created_at=channel.created_at),
            "confirm_page:token": make_confirm_token(channel.id, channel.target, settings,
                                                     created_at=channel.created_at),
            "confirm_submit:token": make_confirm_token(channel.id, channel.target, settings,
                                                       created_at=channel.created_at),
            "reset:token": make_reset_token(owner, settings),
            "dataset_id": s.scalars(select(Dataset.id).order_by(Dataset.id)).first() or "x",
        })
    mine = [e for e in list_outbox(settings, 500) if "alice-matrix@example.org" in e.to.lower()]
    assert mine, "the changed run mailed alice"
    world.tokens["key"] = mine[0].key
    return world


def snapshot(world: World) -> str:
    """Everything of alice's that an attacker might change, as one comparable text."""
    from notifier.models import Channel, Notification
    from subscriptions.models import LoginSession, Scene, SceneRun, User

    with db.session() as s:
        alice = s.get(User, world.ids["user"])
        scene = s.get(Scene, world.ids["scene_id"])
        channels = s.scalars(select(Channel).where(Channel.owner_id == world.ids["user"])
                             .order_by(Channel.id)).all()
        notes = s.scalars(select(Notification).where(Notification.scene_id == world.ids["scene_id"])
                          .order_by(Notification.id)).all()
        state = {
            "alice": alice and (alice.email, alice.password_hash, alice.locale, alice.timezone),
            "sessions": s.scalar(select(func.count()).select_from(LoginSession)
                                 .where(LoginSession.user_id == world.ids["user"])),
            "scene": scene and (scene.name, scene.paused, scene.query, scene.schedule,
                                scene.timezone, scene.tracked_fields, scene.feed_token,
                                sorted(c.id for c in scene.channels)),
            "runs": s.scalar(select(func.count()).select_from(SceneRun)
                             .where(SceneRun.scene_id == world.ids["scene_id"])),
            "channels": [(c.id, c.target, c.paused, c.verified, c.disabled_reason, c.secret,
                          c.cadence, c.digest_hour, c.quiet_start) for c in channels],
            "notifications": [(n.id, n.state, n.attempts) for n in notes],
        }
    return json.dumps(state, default=str, sort_keys=True)


def register_pair(app: Flask) -> tuple[FlaskClient, FlaskClient]:
    alice, bob = app.test_client(), app.test_client()
    register(alice, "alice-matrix@example.org")
    register(bob, "bob-matrix@example.org")
    return alice, bob
