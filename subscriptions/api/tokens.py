"""/api/v1/tokens: the caller's personal API tokens."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from config.extensions import db
from subscriptions.api.auth import caller, current_owner
from subscriptions.api.common import Blueprint
from subscriptions.api.paging import keyset_page
from subscriptions.api.problems import ApiProblem, invalid
from subscriptions.api.schemas import PageArgs, TokenIn, TokenOut, TokenPage
from subscriptions.api_tokens import (
    TokenError,
    create_token,
    owned_token,
    revoke_token,
    scope_allows,
    token_info,
)

bp = Blueprint("api_tokens", __name__, url_prefix="/api/v1/tokens",
               description="Personal API tokens: the token itself is shown once, when it is created.")


@bp.route("")
class Tokens(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, TokenPage)
    @bp.problems(401, 403, 422, 429)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your tokens

        Newest first; revoked and expired ones too, never the token itself.
        """
        from sqlalchemy import select

        from subscriptions.models import ApiToken

        with db.session() as session:
            stmt = select(ApiToken).where(ApiToken.owner_id == caller().user_id)
            items, next_cursor = keyset_page(session, stmt, ApiToken.id, "tokens", args["limit"], args["cursor"])
            return {"items": [token_info(t) for t in items], "next_cursor": next_cursor}

    @bp.arguments(TokenIn, location="json")
    @bp.response(201, TokenOut)
    @bp.problems(401, 403, 409, 422, 429)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a token

        The response holds the token; store it, it is not shown again. A token cannot
        be given more scope than the token that creates it.
        """
        held = caller().scope
        wanted = str(body.get("scope") or "read").strip().lower()
        if wanted in ("read", "write", "admin") and not scope_allows(held, wanted):
            raise invalid([{"field": "scope", "message": f"a {held} token cannot create a {wanted} token"}])
        try:
            with db.session() as session:
                issued = create_token(session, current_owner(session), name=body.get("name") or "",
                                      scope=wanted, expires_at=body.get("expires_at"))
                return {**token_info(issued.token), "token": issued.secret}
        except TokenError as exc:
            raise invalid([{"field": exc.field, "message": exc.message}]) from None


@bp.route("/<int:token_id>")
class TokenItem(MethodView):
    @bp.response(200, TokenOut)
    @bp.problems(401, 403, 404, 429)
    def get(self, token_id: int) -> dict[str, Any]:
        """One of your tokens"""
        with db.session() as session:
            return token_info(_owned(session, token_id))

    @bp.response(204)
    @bp.problems(401, 403, 404, 429)
    def delete(self, token_id: int) -> None:
        """Revoke a token

        It is refused from the next request on (also when it is the token making this one).
        """
        with db.session() as session:
            revoke_token(_owned(session, token_id))


def _owned(session: Any, token_id: int) -> Any:
    try:
        return owned_token(session, current_owner(session), token_id)
    except LookupError:
        raise ApiProblem(404, "not found") from None
