"""One table of API routes: the app registers them and the OpenAPI document describes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    summary: str
    role: str  # the least role allowed: operator, supervisor, admin
    body: dict[str, Any] | None = None  # JSON schema of the request body
    query: tuple[tuple[str, str], ...] = ()  # (name, description)
    tags: tuple[str, ...] = field(default=())


def json_body(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
