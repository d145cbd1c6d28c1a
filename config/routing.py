"""URL converters shared by every blueprint (registered before any route is added)."""
from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

# Ids are 64-bit signed integers on every database; a larger number in a URL can name
# nothing, so it does not match the route (404) instead of overflowing the driver (500).
MAX_ID = 2**63 - 1


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` limited to what a database id can be (0 … 2⁶³−1 unless told)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def id_from(raw: str | None) -> int | None:
    """An id given as text (a query parameter, a form field): a whole number from 1 to
    2⁶³−1 in ASCII digits, else None."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def install_converters(app: Flask) -> None:
    """Make ``int`` the bounded converter, for routes added now and later."""
    app.url_map.converters["int"] = BoundedIntConverter
