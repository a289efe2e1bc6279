"""The web edge of do-not-call (crm_core.dnc) and of the disposition codes (crm_core.
disposition_codes): the supervisor desk's page and the REST API. Supervisors and administrators
list, add, import and export; only they remove (with a reason); administrators change codes.
Forms carry the session's CSRF token (checked by the session middleware), every change is
audited by the domain in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from agent_desktop.api_routes import BOOLEAN, INTEGER, STRING, ApiRoute, json_body
from agent_desktop.errors import ApiError, invalid, not_found, query_int, read_json
from agent_desktop.keys import DEPS, RENDERER
from agent_desktop.principal import Principal
from agent_desktop.security import SESSION, client_address, require_admin, require_supervisor
from crm_core import audit, disposition_codes, dnc
from crm_core.dispositions import WrapUpError

MAX_UPLOAD = 200 * 1024  # the app's request limit is 256 KiB
_TEXT = {
    "title": ("Do-not-call lists", "Списки «не звонить»"),
    "add": ("Add a number", "Добавить номер"),
    "remove": ("Remove", "Убрать"),
    "import": ("Import CSV", "Импорт CSV"),
    "export": ("Export CSV", "Экспорт CSV"),
    "phone": ("Number", "Номер"),
    "scope": ("List", "Список"),
    "reason": ("Reason", "Причина"),
    "source": ("Source", "Источник"),
    "added": ("Added", "Добавлен"),
    "skip_bad": ("Import the good rows, skip the bad", "Импортировать верные строки"),
    "report": ("Import report", "Отчёт об импорте"),
    "global_note": (
        "The global list is never dialled, by a campaign or by hand, and no override passes it.",
        "По глобальному списку не звонит никто: ни кампания, ни оператор, ни с разрешением.",
    ),
}


def _t(language: str) -> Callable[[str], str]:
    return lambda key: _TEXT[key][1 if language == "ru" else 0]


def _actor(request: web.Request, principal: Principal) -> dnc.Actor:
    return dnc.Actor(principal.user_id, principal.is_supervisor, client_address(request))


def _region(request: web.Request) -> str:
    return request.app[DEPS].settings.center.default_region


def _dnc_error(exc: Exception) -> ApiError:
    if isinstance(exc, dnc.DncError):
        return invalid(exc.field, exc.message)
    assert isinstance(exc, dnc.DncRefused)
    status = 403 if isinstance(exc, dnc.RemovalRefused) else 404
    return ApiError(status, exc.code, exc.message)


async def _add(request: web.Request, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
    deps = request.app[DEPS]
    try:
        phone = dnc.parse_phone(body.get("phone"), _region(request))
        scope = dnc.parse_scope(body.get("scope"))
        reason = dnc.parse_reason(body.get("reason"))
        source = dnc.parse_source(body.get("source"), "manual")
        async with deps.db.session() as session:
            await dnc.lock_for_write(session)
            entry, created = await dnc.add(
                session,
                phone=phone,
                scope=scope,
                reason=reason,
                source=source,
                actor=_actor(request, principal),
                now=deps.clock.now(),
            )
            await session.commit()
    except (dnc.DncError, dnc.DncRefused) as exc:
        raise _dnc_error(exc) from exc
    return {**dnc.entry_dict(entry), "created": created}


async def _remove(
    request: web.Request, principal: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    deps = request.app[DEPS]
    try:
        phone = dnc.parse_phone(body.get("phone"), _region(request))
        scope = dnc.parse_scope(body.get("scope"))
        reason = dnc.parse_reason(body.get("reason"))
        async with deps.db.session() as session:
            await dnc.lock_for_write(session)
            before = await dnc.remove(
                session,
                phone=phone,
                scope=scope,
                reason=reason,
                actor=_actor(request, principal),
                now=deps.clock.now(),
            )
            await session.commit()
    except (dnc.DncError, dnc.DncRefused) as exc:
        raise _dnc_error(exc) from exc
    return {"removed": before}


async def _import(
    request: web.Request, principal: Principal, data: str, *, skip_bad: bool, scope: str, name: str
) -> dnc.ImportResult:
    deps = request.app[DEPS]
    try:
        default_scope = dnc.parse_scope(scope)
    except dnc.DncError as exc:
        raise _dnc_error(exc) from exc
    plan = dnc.parse_csv(data, region=_region(request), default_scope=default_scope)
    async with deps.db.session() as session:
        await dnc.lock_for_write(session)
        result = await dnc.import_plan(
            session,
            plan,
            actor=_actor(request, principal),
            now=deps.clock.now(),
            skip_bad=skip_bad,
            file_name=name,
        )
        if result.written:
            await session.commit()
        else:
            await session.rollback()
    return result


async def _export(request: web.Request, principal: Principal) -> web.Response:
    deps = request.app[DEPS]
    scope_raw = request.query.get("scope")
    try:
        scope = dnc.parse_scope(scope_raw) if scope_raw else None
    except dnc.DncError as exc:
        raise _dnc_error(exc) from exc
    async with deps.db.session() as session:
        rows, total = await dnc.entries(session, scope=scope, limit=1_000_000)
        audit.record(
            session,
            at=deps.clock.now(),
            user_id=principal.user_id,
            action="export",
            object_type="dnc",
            object_id=scope.label if scope else "all",
            remote_addr=client_address(request),
            rows=total,
        )
        await session.commit()
    return web.Response(
        text=dnc.export_csv(rows),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="do-not-call.csv"'},
    )


# -- the REST API ---------------------------------------------------------------------------


async def api_list(request: web.Request) -> web.Response:
    require_supervisor(request)
    deps = request.app[DEPS]
    try:
        scope = dnc.parse_scope(request.query["scope"]) if "scope" in request.query else None
    except dnc.DncError as exc:
        raise _dnc_error(exc) from exc
    limit = query_int(request, "limit", 100, low=1, high=1000)
    offset = query_int(request, "offset", 0, low=0, high=10_000_000)
    async with deps.db.session() as session:
        rows, total = await dnc.entries(
            session,
            scope=scope,
            phone=request.query.get("phone", "")[:20],
            limit=limit,
            offset=offset,
        )
    return web.json_response({"items": [dnc.entry_dict(r) for r in rows], "total": total})


async def api_add(request: web.Request) -> web.Response:
    principal = require_supervisor(request)
    body = await read_json(request)
    body.setdefault("source", "api")
    result = await _add(request, principal, body)
    return web.json_response(result, status=201 if result["created"] else 200)


async def api_remove(request: web.Request) -> web.Response:
    principal = require_supervisor(request)
    return web.json_response(await _remove(request, principal, await read_json(request)))


async def api_import(request: web.Request) -> web.Response:
    """The CSV as the request body (text/csv); ?skip_bad=1 imports the good rows; ?report=csv
    answers the row-level report as CSV."""
    principal = require_supervisor(request)
    raw = await request.read()
    if len(raw) > MAX_UPLOAD:
        raise invalid("file", f"at most {MAX_UPLOAD // 1024} KiB")
    try:
        data = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("file", "a UTF-8 CSV file") from None
    result = await _import(
        request,
        principal,
        data,
        skip_bad=request.query.get("skip_bad") in ("1", "true"),
        scope=request.query.get("scope", ""),
        name=request.query.get("name", "api"),
    )
    if request.query.get("report") == "csv":
        return web.Response(
            text=dnc.report_csv(result.problems),
            content_type="text/csv",
            charset="utf-8",
            status=200 if result.written else 422,
        )
    return web.json_response(result.to_dict(), status=200 if result.written else 422)


async def api_export(request: web.Request) -> web.Response:
    return await _export(request, require_supervisor(request))


# -- the supervisor desk's page ---------------------------------------------------------------


async def dnc_page(request: web.Request, **extra: Any) -> web.Response:
    principal = require_supervisor(request)
    deps = request.app[DEPS]
    async with deps.db.session() as session:
        rows, total = await dnc.entries(session, phone=request.query.get("phone", "")[:20])
    return request.app[RENDERER].page(
        "dnc.html",
        principal.language,
        user=principal,
        page="dnc",
        csrf_token=request[SESSION].csrf_token,
        tt=_t(principal.language),
        entries=[dnc.entry_dict(r) for r in rows],
        total=total,
        message=extra.get("message", request.query.get("done", "")),
        error=extra.get("error", ""),
        report=extra.get("report"),
        sources=sorted(dnc.SOURCES),
    )


async def _form(request: web.Request) -> dict[str, Any]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def page_add(request: web.Request) -> web.StreamResponse:
    principal = require_supervisor(request)
    try:
        result = await _add(request, principal, await _form(request))
    except ApiError as exc:
        return await dnc_page(request, error=exc.message)
    raise web.HTTPSeeOther(f"/supervisor/dnc?done={'added' if result['created'] else 'listed'}")


async def page_remove(request: web.Request) -> web.StreamResponse:
    principal = require_supervisor(request)
    try:
        await _remove(request, principal, await _form(request))
    except ApiError as exc:
        return await dnc_page(request, error=exc.message)
    raise web.HTTPSeeOther("/supervisor/dnc?done=removed")


async def page_import(request: web.Request) -> web.StreamResponse:
    principal = require_supervisor(request)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return await dnc_page(request, error="choose a CSV file")
    raw = upload.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        return await dnc_page(request, error=f"at most {MAX_UPLOAD // 1024} KiB")
    try:
        data = raw.decode("utf-8")
    except UnicodeDecodeError:
        return await dnc_page(request, error="a UTF-8 CSV file")
    try:
        result = await _import(
            request,
            principal,
            data,
            skip_bad=form.get("skip_bad") == "1",
            scope=str(form.get("scope", "")),
            name=str(upload.filename)[:100],
        )
    except ApiError as exc:
        return await dnc_page(request, error=exc.message)
    return await dnc_page(request, report=result.to_dict())


async def page_report(request: web.Request) -> web.Response:
    """The row-level report of an import, re-checked without writing, as a neutralised CSV."""
    require_supervisor(request)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise invalid("file", "choose a CSV file")
    data = upload.file.read(MAX_UPLOAD + 1).decode("utf-8", errors="replace")
    plan = dnc.parse_csv(data, region=_region(request), default_scope=dnc.Scope(None))
    return web.Response(text=dnc.report_csv(plan.problems), content_type="text/csv")


async def page_export(request: web.Request) -> web.Response:
    return await _export(request, require_supervisor(request))


# -- disposition codes (administrators) ---------------------------------------------------------


async def list_codes(request: web.Request) -> web.Response:
    require_supervisor(request)
    deps = request.app[DEPS]
    async with deps.db.session() as session:
        rows = await disposition_codes.rows(session)
    if rows:
        return web.json_response({"items": [disposition_codes.to_dict(r) for r in rows]})
    items = [
        {
            "id": None,
            "code": c.code,
            "label_en": c.label_en,
            "label_ru": c.label_ru,
            "right_party": c.right_party,
            "needs_promise": c.needs_promise,
            "needs_callback": c.needs_callback,
            "needs_arrangement": c.needs_arrangement,
            "effect": c.effect.value,
            "active": True,
            "position": (i + 1) * 10,
        }
        for i, c in enumerate(deps.dispositions)
    ]
    return web.json_response({"items": items})


async def create_code(request: web.Request) -> web.Response:
    principal = require_admin(request)
    deps = request.app[DEPS]
    body = await read_json(request)
    try:
        async with deps.db.session() as session:
            row = await disposition_codes.create(
                session,
                body,
                user_id=principal.user_id,
                now=deps.clock.now(),
                remote_addr=client_address(request),
            )
            await session.commit()
    except WrapUpError as exc:
        raise invalid(exc.field, exc.message) from exc
    except disposition_codes.CodeExists as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    return web.json_response(disposition_codes.to_dict(row), status=201)


async def update_code(request: web.Request) -> web.Response:
    principal = require_admin(request)
    deps = request.app[DEPS]
    body = await read_json(request)
    code = request.match_info["code"]
    try:
        async with deps.db.session() as session:
            row = await disposition_codes.update(
                session,
                code,
                body,
                user_id=principal.user_id,
                now=deps.clock.now(),
                remote_addr=client_address(request),
            )
            if row is None:
                raise not_found(f"disposition code {code}")
            await session.commit()
    except WrapUpError as exc:
        raise invalid(exc.field, exc.message) from exc
    return web.json_response(disposition_codes.to_dict(row))


def setup(app: web.Application) -> None:
    """The supervisor desk's page (the API routes come through ROUTES)."""
    r = app.router
    r.add_get("/supervisor/dnc", dnc_page)
    r.add_post("/supervisor/dnc/add", page_add)
    r.add_post("/supervisor/dnc/remove", page_remove)
    r.add_post("/supervisor/dnc/import", page_import)
    r.add_post("/supervisor/dnc/report.csv", page_report)
    r.add_get("/supervisor/dnc/export.csv", page_export)


DNC_BODY = json_body(
    phone=STRING,
    scope={"type": "string", "description": "'global' (default) or 'campaign:<id>'"},
    reason=STRING,
    source={"type": "string", "enum": sorted(dnc.SOURCES)},
)
CODE_BODY = json_body(
    code=STRING,
    label_en=STRING,
    label_ru=STRING,
    right_party=BOOLEAN,
    needs_promise=BOOLEAN,
    needs_callback=BOOLEAN,
    needs_arrangement=BOOLEAN,
    effect={
        "type": "string",
        "enum": ["", "wrong_number", "dispute", "deceased", "bankrupt", "attorney", "cease"],
    },
    active=BOOLEAN,
    position=INTEGER,
)

ROUTES = (
    ApiRoute(
        "GET",
        "/api/dnc",
        api_list,
        "Do-not-call entries (global and per campaign)",
        "supervisor",
        query=(("scope", "'global' or 'campaign:<id>'"), ("phone", "part of the number")),
    ),
    ApiRoute(
        "POST", "/api/dnc", api_add, "Put a number on a do-not-call list", "supervisor", DNC_BODY
    ),
    ApiRoute(
        "POST",
        "/api/dnc/remove",
        api_remove,
        "Take a number off a do-not-call list (supervisors and admins, with a reason)",
        "supervisor",
        DNC_BODY,
    ),
    ApiRoute(
        "POST",
        "/api/dnc/import",
        api_import,
        "Import a CSV (phone, scope, reason, source): validated first, row-level report",
        "supervisor",
        query=(("skip_bad", "1: import the good rows"), ("report", "csv: the report as CSV")),
    ),
    ApiRoute(
        "GET", "/api/dnc/export", api_export, "Export as CSV (formula-neutralised)", "supervisor"
    ),
    ApiRoute("GET", "/api/admin/dispositions", list_codes, "Disposition codes", "supervisor"),
    ApiRoute(
        "POST",
        "/api/admin/dispositions",
        create_code,
        "Create a disposition code",
        "admin",
        CODE_BODY,
    ),
    ApiRoute(
        "PATCH",
        "/api/admin/dispositions/{code}",
        update_code,
        "Change (or deactivate) a disposition code",
        "admin",
        CODE_BODY,
    ),
)
