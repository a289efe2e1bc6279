"""API errors: a stable machine-readable code, an HTTP status and a message for people.

Every JSON error body is `{"error": {"code": ..., "message": ..., "details": {...}}}`; clients
branch on `code`, never on the message (which may be translated or reworded).
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from crm_core import inputs

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


MAX_JSON_BYTES = 256 * 1024  # the app's client_max_size, checked here as well
MAX_JSON_DEPTH = 32  # objects and arrays within each other
MAX_JSON_DIGITS = 18  # a JSON integer longer than this is refused (ids are 32-bit, sums 64)


def _bad_json(message: str) -> ApiError:
    return ApiError(400, "bad_json", f"request body is not acceptable JSON: {message}")


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise _bad_json(f"a number of more than {MAX_JSON_DIGITS} digits")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _bad_json(f"{text[:20]} is not a finite number")
    return value


def _json_constant(text: str) -> Any:
    raise _bad_json(f"{text} is not JSON")


def _depth(value: Any) -> int:
    """How deeply objects and arrays nest in a decoded JSON value (iteratively)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(raw: bytes) -> Any:
    """A JSON text from a client, within limits: at most MAX_JSON_BYTES, nested at most
    MAX_JSON_DEPTH deep, no NaN or Infinity, no integer longer than MAX_JSON_DIGITS digits and
    no float that overflows. Anything else is a 400 `bad_json` that says why."""
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"request body over {MAX_JSON_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_json(f"not UTF-8 ({exc.reason})") from exc
    try:
        value = json.loads(
            text,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=_json_constant,
        )
    except RecursionError:  # the decoder's own guard, far below the C stack's limit
        raise _bad_json(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise _bad_json(str(exc)[:200]) from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise _bad_json(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return value


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (see `parse_json` for the limits); a clear 400 otherwise."""
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "request body must be a JSON object")
    return body


def path_id(request: web.Request, name: str) -> int:
    """An id from the URL's path; an id that cannot exist (not ASCII digits, 0, or beyond the
    database's integers) is a 404 like any missing one."""
    raw = request.match_info[name]
    try:
        return inputs.ident(raw, name)
    except inputs.InputError:
        raise not_found(f"{name.removesuffix('_id')} {raw[:20]!r}") from None


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    """A whole number from the query string, within [low, high]; otherwise a 422."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return inputs.whole(raw, name, low=low, high=high)
    except inputs.InputError as exc:
        raise invalid(name, exc.message) from None


def query_id(request: web.Request, name: str) -> int | None:
    """An optional id from the query string (None when absent); otherwise a 422."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return inputs.ident(raw, name)
    except inputs.InputError as exc:
        raise invalid(name, exc.message) from None


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
        except inputs.InputError as exc:  # a bounded parser refused a value: name the field
            return answer(request, invalid(exc.field, exc.message))
        except web.HTTPException as exc:
            if exc.status in _HTTP_CODES and request.path.startswith("/api/"):
                return ApiError(exc.status, _HTTP_CODES[exc.status], exc.reason).response()
            raise
        except Exception:  # the request boundary: log and answer, never leak a traceback
            log.exception("unhandled error in %s %s", request.method, request.path)
            return answer(request, ApiError(500, "internal", "internal error"))

    return middleware
