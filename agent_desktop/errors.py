"""API errors: a stable machine-readable code, an HTTP status and a message for people.

Every JSON error body is `{"error": {"code": ..., "message": ..., "details": {...}}}`; clients
branch on `code`, never on the message (which may be translated or reworded).
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def response(self) -> web.Response:
        body = {"error": {"code": self.code, "message": self.message, "details": self.details}}
        return web.json_response(body, status=self.status)


def not_signed_in() -> ApiError:
    return ApiError(401, "auth.not_signed_in", "sign in first")


def forbidden(what: str) -> ApiError:
    return ApiError(403, "auth.forbidden", f"your role may not {what}")


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_input", f"{field}: {message}", {"field": field})


def plain_text(value: str, field: str, max_length: int) -> str:
    """Free text from a user (a search, a reason): at most `max_length` characters and no
    control characters (a NUL would reach the database's LIKE and match almost anything).
    Anything else is refused with 400 and says why."""
    if len(value) > max_length:
        raise ApiError(
            400, "invalid_input", f"{field}: at most {max_length} characters", {"field": field}
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ApiError(
            400,
            "invalid_input",
            f"{field}: control characters (such as NUL, tab or newline) are not allowed",
            {"field": field},
        )
    return value


def unavailable(service: str) -> ApiError:
    return ApiError(503, f"{service}.unavailable", f"{service} is not connected to this desktop")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; a clear 400 when it is not one."""
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "request body must be a JSON object")
    return body


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


Page = Callable[[web.Request, ApiError], web.Response]

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def error_middleware(page: Page) -> Callable[..., Awaitable[web.StreamResponse]]:
    """ApiError -> JSON for the API and fetch calls, an HTML page for a browser navigating;
    anything unexpected -> a logged 500 with a stable code, never a traceback."""

    def answer(request: web.Request, error: ApiError) -> web.Response:
        navigating = "text/html" in request.headers.get("Accept", "")
        if navigating and not request.path.startswith("/api/"):
            return page(request, error)
        return error.response()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return answer(request, exc)
        except web.HTTPException as exc:
            if exc.status in _HTTP_CODES and request.path.startswith("/api/"):
                return ApiError(exc.status, _HTTP_CODES[exc.status], exc.reason).response()
            raise
        except Exception:  # the request boundary: log and answer, never leak a traceback
            log.exception("unhandled error in %s %s", request.method, request.path)
            return answer(request, ApiError(500, "internal", "internal error"))

    return middleware
