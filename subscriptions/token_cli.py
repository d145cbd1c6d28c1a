"""``scenewatch tokens``: create, list and revoke personal API tokens."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from config.cli_support import emit, fail, json_option, with_app


@click.group("tokens")
def tokens_group() -> None:
    """Personal API tokens (sent as `Authorization: Bearer TOKEN` to /api/v1)."""


def _owner(session: Any, email: str, as_json: bool) -> Any:
    from subscriptions.accounts import find_user

    user = find_user(session, email)
    if user is None:
        fail(f"owner: no account {email!r}", as_json, code=2, field="owner")
    return user


@tokens_group.command("create")
@click.option("--owner", required=True, help="The account the token acts as (email).")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="read", show_default=True,
              help="read: GET only; write: also change scenes and channels; admin: also sources.")
@click.option("--name", default="", help="A label to recognise the token by.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None,
              help="Refuse the token after this many days (default: never).")
@json_option
@with_app
def create_command(owner: str, scope: str, name: str, expires_in_days: int | None, as_json: bool) -> None:
    """Create a token and print it once (only a hash is kept)."""
    from config.extensions import db
    from subscriptions.api_tokens import TokenError, create_token, token_info, utcnow

    now = utcnow()
    expires = now + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with db.session() as session:
            user = _owner(session, owner, as_json)
            issued = create_token(session, user, name=name, scope=scope, expires_at=expires, now=now)
            data = {**token_info(issued.token, now), "owner": user.email, "token": issued.secret}
    except TokenError as exc:
        fail(str(exc), as_json, code=2, field=exc.field)
        return

    def human(d: dict[str, Any]) -> None:
        click.echo(f"token {d['id']} ({d['scope']}) for {d['owner']}; store it now, it is not shown again:")
        click.echo(d["token"])

    emit(data, as_json, human)


@tokens_group.command("list")
@click.option("--owner", required=True, help="Whose tokens (email).")
@json_option
@with_app
def list_command(owner: str, as_json: bool) -> None:
    """List an account's tokens (prefix, scope, state, last use; never the token)."""
    from config.extensions import db
    from subscriptions.api_tokens import list_tokens, token_info

    with db.session() as session:
        user = _owner(session, owner, as_json)
        data = [token_info(t) for t in list_tokens(session, user)]

    def human(rows: list[dict[str, Any]]) -> None:
        if not rows:
            click.echo("no tokens")
        for row in rows:
            used = row["last_used_at"] or "never used"
            click.echo(f"{row['id']:>4}  {row['prefix']}…  {row['scope']:<5}  {row['state']:<7}  {row['name']}  "
                       f"(last used: {used})")

    emit(data, as_json, human)


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--owner", default=None, help="Only if the token belongs to this account (email).")
@json_option
@with_app
def revoke_command(token_id: int, owner: str | None, as_json: bool) -> None:
    """Revoke a token: it is refused from the next request on."""
    from config.extensions import db
    from subscriptions.api_tokens import revoke_token, token_info
    from subscriptions.models import ApiToken

    with db.session() as session:
        token = session.get(ApiToken, token_id)
        if token is not None and owner is not None:
            user = _owner(session, owner, as_json)
            token = token if token.owner_id == user.id else None
        if token is None:
            fail(f"no token with id {token_id}", as_json, code=2, field="token_id")
            return
        revoke_token(token)
        data = token_info(token)
    emit(data, as_json, lambda d: click.echo(f"token {d['id']} ({d['prefix']}…) revoked"))


def register(group: click.Group) -> None:
    """Add these commands to the ``scenewatch`` group."""
    group.add_command(tokens_group)
