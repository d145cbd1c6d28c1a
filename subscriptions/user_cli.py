"""``scenewatch users …``: account administration from the command line."""
from __future__ import annotations

from typing import Any

import click

from config.cli_support import emit, fail, json_option, with_app


@click.group("users")
def users_group() -> None:
    """Accounts: who may see the admin pages."""


def _set_admin(email: str, admin: bool, as_json: bool) -> None:
    from config.extensions import db
    from subscriptions.accounts import find_user

    with db.session() as session:
        user = find_user(session, email)
        if user is None:
            fail(f"email: no account {email!r}", as_json, code=2, field="email")
            return
        user.is_admin = admin
        data = {"id": user.id, "email": user.email, "is_admin": user.is_admin}
    emit(data, as_json, lambda d: click.echo(
        f"{d['email']} is {'now' if d['is_admin'] else 'no longer'} an admin"))


@users_group.command("grant-admin")
@click.argument("email")
@json_option
@with_app
def grant_admin_command(email: str, as_json: bool) -> None:
    """Let the account EMAIL see the admin pages (sources, harvests, quarantine)."""
    _set_admin(email, True, as_json)


@users_group.command("revoke-admin")
@click.argument("email")
@json_option
@with_app
def revoke_admin_command(email: str, as_json: bool) -> None:
    """Take the admin pages away from the account EMAIL."""
    _set_admin(email, False, as_json)


@users_group.command("list")
@json_option
@with_app
def list_command(as_json: bool) -> None:
    """Every account, with whether it is an admin."""
    from sqlalchemy import select

    from config.extensions import db
    from subscriptions.models import User

    with db.session() as session:
        data = [{"id": u.id, "email": u.email, "is_admin": u.is_admin, "created_at": u.created_at}
                for u in session.scalars(select(User).order_by(User.id))]
    def human(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            click.echo(f"{row['id']:>4}  {row['email']}{'  (admin)' if row['is_admin'] else ''}")

    emit(data, as_json, human)
