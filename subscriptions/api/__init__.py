"""The REST API at /api/v1: token-authenticated JSON over the same domain functions as the
web form and the CLI, with an OpenAPI 3.1 document generated from the code.

flask-smorest builds the document from the marshmallow schemas the views already use
to parse and serialise, and plugs into the existing app factory with ``init_app``.
"""
from __future__ import annotations

import http
from typing import Any

import flask_smorest
from flask import Flask, request
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from subscriptions.api.problems import PROBLEM_TYPE, ApiProblem, from_http_exception, from_problem
from subscriptions.api.schemas import Problem

PREFIX = "/api/v1"
RESPONSE_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "string"}}},
}


class ScenewatchApi(flask_smorest.Api):
    """flask-smorest's Api with problem+json errors that apply to /api/ paths only
    (the web pages keep their own error pages)."""

    ERROR_SCHEMA = Problem

    def _register_error_handlers(self) -> None:
        """Errors are turned into problems by :func:`handle_api_error`, for API paths only."""

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not 100 <= status < 200 and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            if status in RESPONSE_HEADERS:
                response["headers"] = RESPONSE_HEADERS[status]
            prepare_response(response, self.spec, PROBLEM_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Any other problem", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_TYPE)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


def is_api_request() -> bool:
    """True for requests under /api/v1."""
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def handle_api_error(error: Exception) -> Response | None:
    """The problem response for ``error`` on an API path (None: not an API request)."""
    if not is_api_request():
        return None
    if isinstance(error, ApiProblem):
        return from_problem(error)
    if isinstance(error, HTTPException):
        return from_http_exception(error)
    return None


def blueprints() -> list[Any]:
    """Every resource blueprint of the API, in the order the document lists them."""
    from subscriptions.api import channels, datasets, notifications, runs, scenes, sources, tokens

    return [datasets.bp, scenes.bp, runs.bp, channels.bp, notifications.bp, sources.bp, tokens.bp]


def init_api(app: Flask) -> None:
    """Mount the API, its OpenAPI document and docs page on ``app``."""
    from subscriptions.api.docs import bp as docs_bp
    from subscriptions.views.csrf import exempt_blueprint

    app.config.setdefault("API_TITLE", "scenewatch")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Scenes, runs, diffs and deliveries as JSON. Send a personal API "
                                "token as `Authorization: Bearer <token>`; errors are RFC 9457 problems."},
        "servers": [{"url": "/"}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    })
    api = ScenewatchApi(app)
    app.extensions["scenewatch_api"] = api
    app.register_error_handler(ApiProblem, from_problem)
    for blueprint in blueprints():
        api.register_blueprint(blueprint)
        exempt_blueprint(blueprint)
    app.register_blueprint(docs_bp)
    from subscriptions.api.limits import init_limits

    init_limits(app, app.config["SCENEWATCH"], blueprints())
