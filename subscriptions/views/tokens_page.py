"""The account's API tokens page: create (the token is shown once), list, revoke.

Signed-in users only, with the session cookie and its CSRF token like every page; the
page itself never accepts a bearer token. The token list is the ``_api_tokens.html``
piece, which the account page can include as it is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import translate
from subscriptions.views.auth import login_required

bp = Blueprint("api_tokens_page", __name__)


def tokens_context(new_token: str | None = None, errors: dict[str, str] | None = None,
                   form: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``_api_tokens.html`` needs for the signed-in user."""
    from subscriptions.api_tokens import is_admin, list_tokens, token_info
    from subscriptions.models import User

    with db.session() as session:
        user = session.get(User, g.user.id)
        assert user is not None
        tokens = [token_info(t) for t in list_tokens(session, user)]
        scopes = ["read", "write", "admin"] if is_admin(user) else ["read", "write"]
    return {"tokens": tokens, "new_token": new_token, "token_errors": errors or {},
            "token_form": form or {"name": "", "scope": "read", "expires_in_days": ""}, "token_scopes": scopes}


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def index() -> Any:
    """List the user's tokens; POST creates one and shows it this once."""
    from subscriptions.api_tokens import TokenError, create_token, utcnow
    from subscriptions.models import User

    if request.method == "GET":
        return render_template("api_tokens.html", **tokens_context())
    form = {k: (request.form.get(k) or "").strip() for k in ("name", "scope", "expires_in_days")}
    errors: dict[str, str] = {}
    expires = None
    if form["expires_in_days"]:
        if not form["expires_in_days"].isdigit() or not 1 <= int(form["expires_in_days"]) <= 3650:
            errors["expires_in_days"] = translate("tokens.bad_days")
        else:
            expires = utcnow() + timedelta(days=int(form["expires_in_days"]))
    if not errors:
        try:
            with db.session() as session:
                user = session.get(User, g.user.id)
                assert user is not None
                issued = create_token(session, user, name=form["name"], scope=form["scope"] or "read",
                                      expires_at=expires)
                secret = issued.secret
        except TokenError as exc:
            errors[exc.field] = exc.message
        else:
            # Rendered, not redirected: the token must not travel through the session cookie.
            return render_template("api_tokens.html", **tokens_context(new_token=secret)), 201
    return render_template("api_tokens.html", **tokens_context(errors=errors, form=form)), 400


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Response:
    """Revoke one of the user's tokens: refused from the next request on."""
    from subscriptions.api_tokens import owned_token, revoke_token
    from subscriptions.models import User

    with db.session() as session:
        user = session.get(User, g.user.id)
        assert user is not None
        try:
            token = owned_token(session, user, token_id)
        except LookupError:
            abort(404)
        revoke_token(token)
        prefix = token.prefix
    flash(translate("tokens.revoked", prefix=prefix), "ok")
    return redirect(url_for("api_tokens_page.index"))
