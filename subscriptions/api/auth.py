"""Bearer-token authentication for /api/v1: no cookies, so no CSRF.

Every request to an API blueprint must carry ``Authorization: Bearer <token>``. A
token's scope bounds what it may do: ``read`` for GET, ``write`` for every change,
``admin`` (held by administrators only) for the sources endpoints.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from config.extensions import db
from subscriptions.api.problems import ApiProblem
from subscriptions.api_tokens import TokenRefused, authenticate_token, is_admin, scope_allows
from subscriptions.models import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Blueprints whose every route needs a higher scope than its method implies.
ADMIN_BLUEPRINTS: set[str] = set()
# POSTs that only read (a query too long for a URL; a preview): the read scope will do.
READ_ONLY_POSTS = frozenset({"api_datasets.DatasetSearchBody", "api_scenes.ScenePreview"})


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's id and scope, and its owner."""

    token_id: int
    scope: str
    user_id: int
    locale: str
    admin: bool


def _challenge(error: str = "", description: str = "") -> dict[str, str]:
    value = 'Bearer realm="scenewatch"'
    if error:
        value += f', error="{error}", error_description="{description}"'
    return {"WWW-Authenticate": value}


def needed_scope() -> str:
    """The scope this request needs."""
    if request.blueprint in ADMIN_BLUEPRINTS:
        return "admin"
    if request.method in SAFE_METHODS or request.endpoint in READ_ONLY_POSTS:
        return "read"
    return "write"


def authenticate_request() -> None:
    """before_request of every API blueprint: put the :class:`Caller` on ``g`` or refuse."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiProblem(401, "send a personal API token as `Authorization: Bearer <token>`",
                         headers=_challenge())
    with db.session() as session:
        try:
            token = authenticate_token(session, raw)
        except TokenRefused as exc:
            raise ApiProblem(401, exc.reason, headers=_challenge("invalid_token", exc.reason)) from None
        user = session.get(User, token.owner_id)
        if user is None:  # the account went away while the token row lingered
            raise ApiProblem(401, "unknown token", headers=_challenge("invalid_token", "unknown token"))
        # An admin token outlives a withdrawn admin role only as a write token.
        scope = token.scope if token.scope != "admin" or is_admin(user) else "write"
        g.api_caller = Caller(token_id=token.id, scope=scope, user_id=user.id,
                              locale=user.locale or "en", admin=is_admin(user))
    needed = needed_scope()
    if needed == "admin" and not g.api_caller.admin:
        raise ApiProblem(403, "this needs an administrator's token with the admin scope",
                         kind="insufficient-scope")
    if not scope_allows(g.api_caller.scope, needed):
        raise ApiProblem(403, f"this token has the {g.api_caller.scope} scope; this request needs {needed}",
                         kind="insufficient-scope",
                         headers=_challenge("insufficient_scope", f"needs the {needed} scope"))


def caller() -> Caller:
    """The authenticated caller of this API request."""
    found = getattr(g, "api_caller", None)
    if found is None:
        raise ApiProblem(401, "not authenticated", headers=_challenge())
    return found


def current_owner(session: object) -> User:
    """The caller's account, loaded in ``session``."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    user = session.get(User, caller().user_id)
    if user is None:
        raise ApiProblem(401, "unknown token", headers=_challenge("invalid_token", "unknown token"))
    return user
