"""The double opt-in link: GET shows a confirm button, POST confirms (a mail scanner
that follows links cannot confirm an address on someone's behalf)."""
from __future__ import annotations

from flask import Blueprint, Flask, render_template

from notifier.confirmation import confirm_channel
from notifier.tokens import ExpiredToken, InvalidToken, read_confirm_token

bp = Blueprint("confirm", __name__)


@bp.get("/confirm/<token>")
def confirm_page(token: str) -> tuple[str, int] | str:
    try:
        _, address, _ = read_confirm_token(token)
    except ExpiredToken:
        return render_template("confirm.html", state="expired", address=None), 410
    except InvalidToken:
        return render_template("confirm.html", state="invalid", address=None), 400
    return render_template("confirm.html", state="ask", address=address, token=token)


@bp.post("/confirm/<token>")
def confirm_submit(token: str) -> tuple[str, int] | str:
    try:
        channel = confirm_channel(token)
    except ExpiredToken:
        return render_template("confirm.html", state="expired", address=None), 410
    except InvalidToken:
        return render_template("confirm.html", state="invalid", address=None), 400
    return render_template("confirm.html", state="done", address=channel.target)


def register_confirm_views(app: Flask) -> None:
    """Attach the confirmation routes to ``app``."""
    app.register_blueprint(bp)
