"""What every API resource module shares: the blueprint class and ownership checks."""
from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import flask_smorest
from sqlalchemy.orm import Session

from subscriptions.api.auth import authenticate_request, caller
from subscriptions.api.problems import ApiProblem

F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    """An API blueprint: every request is authenticated by its bearer token first, keyed
    POSTs are idempotent and GETs carry an ETag (see :mod:`subscriptions.api.hooks`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from subscriptions.api.hooks import add_etag, finish_idempotent, start_idempotent

        self.before_request(authenticate_request)
        self.before_request(start_idempotent)
        self.after_request(finish_idempotent)
        self.after_request(add_etag)

    def problems(self, *codes: int) -> Callable[[F], F]:
        """Document the problem responses ``codes`` a view can give."""

        def decorator(func: F) -> F:
            for code in codes:
                func = self.alt_response(code, HTTPStatus(code).name)(func)
            return func

        return decorator


def owned(session: Session, model: Any, item_id: int, owner_column: str = "owner_id") -> Any:
    """``model`` row ``item_id`` when the caller owns it; 404 otherwise (an id someone
    else owns looks exactly like one that does not exist)."""
    item = session.get(model, item_id) if 0 < item_id < 2**31 else None
    if item is None or getattr(item, owner_column) != caller().user_id:
        raise ApiProblem(404, "not found")
    return item
