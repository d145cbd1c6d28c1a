"""RFC 9457 problem details: every API error is ``application/problem+json``.

A problem has ``type``, ``title``, ``status``, ``detail`` and ``instance``; validation
problems add ``errors``: a list of ``{"field", "message"}`` with the same field names and
messages as the command line (``scenewatch scenes create`` prints ``field: message``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Response, request
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "/api/v1/docs#problem-"


class ApiProblem(Exception):
    """Raised by API views: becomes a problem response with ``status``."""

    def __init__(self, status: int, detail: str = "", *, kind: str | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = errors
        self.headers = dict(headers or {})


def field_errors(problems: Iterable[Any]) -> list[dict[str, Any]]:
    """``[{"field", "message"}]`` from objects with ``field`` and ``message`` (or ``reason``)."""
    out = []
    for problem in problems:
        message = getattr(problem, "message", None) or getattr(problem, "reason", "")
        entry: dict[str, Any] = {"field": problem.field, "message": message}
        if getattr(problem, "value", None) is not None:
            entry["value"] = problem.value
        out.append(entry)
    return out


def invalid(errors: list[dict[str, Any]], status: int = 422) -> ApiProblem:
    """A validation problem listing ``errors``; ``detail`` reads like the CLI's message."""
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return ApiProblem(status, detail, kind="validation", errors=errors)


def problem_response(status: int, detail: str = "", *, kind: str | None = None,
                     errors: list[dict[str, Any]] | None = None,
                     headers: Mapping[str, str] | None = None) -> Response:
    """The problem+json response for ``status``."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{kind}" if kind else "about:blank",
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def from_problem(exc: ApiProblem) -> Response:
    """The response for an :class:`ApiProblem`."""
    return problem_response(exc.status, exc.detail, kind=exc.kind, errors=exc.errors, headers=exc.headers)


def _webargs_errors(messages: Any) -> list[dict[str, Any]]:
    """Flatten webargs/marshmallow messages ({location: {field: [msg]}}) to field errors."""
    errors: list[dict[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                name = key if key != "_schema" else ""
                walk(f"{prefix}.{name}" if prefix and name else (name or prefix), inner)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            for message in value:
                errors.append({"field": prefix or "body", "message": message})
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{prefix}.{index}", inner)
        else:
            errors.append({"field": prefix or "body", "message": str(value)})

    for location, fields in (messages or {}).items():
        walk("" if location in ("json", "query", "form", "view_args") else location, fields)
    return errors


def from_http_exception(error: HTTPException) -> Response:
    """The problem response for a werkzeug/webargs HTTP error raised under /api/."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers: dict[str, str] = {}
    valid_methods = getattr(error, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    retry_after = getattr(error, "retry_after", None)
    if status == 429 and retry_after:
        headers["Retry-After"] = str(retry_after)
    if "messages" in data:  # request parsing (webargs) failed: name the fields
        errors = _webargs_errors(data["messages"])
        problem = invalid(errors, 422)
        return problem_response(422, problem.detail, kind="validation", errors=errors)
    if status == 400 and error.description and "JSON" in error.description:
        return problem_response(400, "the request body is not valid JSON", kind="validation",
                                errors=[{"field": "body", "message": "is not valid JSON"}])
    detail = error.description if status < 500 else ""
    if status == 429:
        detail = f"too many requests with this token (limit {error.description}); retry after Retry-After seconds"
    if status == 404:
        detail = "not found"  # the same words whether the id is someone else's or missing
    return problem_response(status, detail or "", headers=headers)
