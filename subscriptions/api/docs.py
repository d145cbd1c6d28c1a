"""The API's docs page: rendered here from the OpenAPI document, with no scripts and
nothing fetched from elsewhere (it works offline and under the site's CSP)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs_page", __name__)
METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(schema: dict[str, Any] | None) -> str:
    ref = (schema or {}).get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else ""


def operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of ``spec`` as plain rows for the template, grouped by tag order."""
    rows = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {})
            responses = []
            for code, response in op.get("responses", {}).items():
                content = response.get("content") or {}
                media = next(iter(content), "")
                schema = _ref_name((content.get(media) or {}).get("schema"))
                responses.append({"code": code, "description": response.get("description", ""),
                                  "media": media, "schema": schema})
            rows.append({
                "tag": (op.get("tags") or [""])[0], "method": method.upper(), "path": path,
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "parameters": [*item.get("parameters", []), *op.get("parameters", [])],
                "body": _ref_name(body.get("schema")), "responses": responses,
                "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
            })
    return rows


@bp.route("/api/v1/docs")
def docs() -> str:
    """The API reference: operations, parameters, schemas, problem types."""
    spec = current_app.extensions["scenewatch_api"].spec.to_dict()
    return render_template("api_docs.html", spec=spec, operations=operations(spec),
                           schemas=spec.get("components", {}).get("schemas", {}))
