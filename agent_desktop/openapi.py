"""The OpenAPI 3 document, generated from the same route table the app registers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from agent_desktop.api_routes import ApiRoute
from agent_desktop.security import require

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "stable machine-readable code, e.g. auth.forbidden",
                },
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
ERROR_CODES = (
    "auth.not_signed_in",
    "auth.forbidden",
    "auth.csrf",
    "not_found",
    "invalid_input",
    "bad_json",
    "conflict",
    "campaign.bad_state",
    "campaign.not_loaded",
    "dial.denied",
    "dial.not_overridable",
    "dialer.unavailable",
    "internal",
)


def document(routes: Iterable[ApiRoute], version: str = "0.1.0") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "description": f"Allowed for role {route.role} and above.",
            "x-callboard-role": route.role,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.path)
            ]
            + [
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": text,
                    "schema": {"type": "string"},
                }
                for name, text in route.query
            ],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "default": {
                    "description": "error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        if route.method in ("POST", "PUT", "PATCH"):
            operation["security"] = [{"session": [], "csrf": []}]
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.body or {"type": "object"}}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Callboard API",
            "version": version,
            "description": "Signed-in session cookie; state-changing requests need the "
            "X-CSRF-Token header. Errors: {error: {code, message, details}}; codes: "
            + ", ".join(ERROR_CODES),
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cb_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
        "security": [{"session": []}],
    }


def handler(routes: tuple[ApiRoute, ...]) -> Any:
    doc = document(routes)

    async def openapi_json(request: web.Request) -> web.Response:
        require(request)  # the map of the API is for signed-in users, not the network
        return web.json_response(doc)

    return openapi_json
