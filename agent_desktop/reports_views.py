"""The web edge of the reports (the `reports` package): HTTP in, a report out as JSON, CSV or a
page. No figure is computed here.

Supervisors see their team (the operators whose team they are, and themselves), administrators
everyone; queue and campaign reports are center-wide. A filter naming an operator or a team
outside the caller's scope is refused (403), never answered with an empty report.

- `GET /api/reports/{agents,queues,campaigns,collections}`: `from`, `to` (local dates, the
  center's time zone; the last 7 days by default), `breakdown` and the report's filters;
  `format=csv` streams the CSV (formula-neutralised) instead of JSON.
- `GET /api/reports/liquidation`: the liquidation stair-step of the debts placed from `from` to
  `to` (the last 12 months by default) by placement month, `months` (1 to 36, 12 by default)
  columns, collections counted to today; `creditor`, `segment` filters.
- `GET /api/reports/roll-rates`: roll rates between days-past-due buckets from each month end
  of `from`..`to` (the last complete month by default) to the one before; `breakdown` bucket
  or month; `creditor`, `segment` filters. Both portfolio reports (reports.portfolio) cover a
  supervisor's team's assigned debts, every debt for administrators.
- `GET /api/reports/calls`: call detail records, paged (`page`, `per_page` up to 500);
  `format=csv` streams every call of the range from a database cursor. Each CSV export of call
  records is in the audit log.
- `GET /reports`: the page (tables and server-drawn SVG bars; a small script only submits the
  form when a choice changes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from agent_desktop.api_routes import ApiRoute
from agent_desktop.errors import ApiError, invalid, plain_text
from agent_desktop.keys import DEPS, RENDERER
from agent_desktop.principal import Principal
from agent_desktop.security import SESSION, client_address, require_supervisor
from crm_core import audit, inputs
from crm_core.models import Role, User
from reports import agents, calls, campaigns, collected, export, portfolio, queues
from reports.common import Report, ReportError, ReportRange, Scope, scope_for

REPORTS = ("agents", "queues", "campaigns", "collections", "liquidation", "roll-rates", "calls")
BREAKDOWNS = {
    "agents": agents.BREAKDOWNS,
    "queues": queues.BREAKDOWNS,
    "campaigns": campaigns.BREAKDOWNS,
    "collections": collected.BREAKDOWNS,
    "liquidation": (),
    "roll-rates": portfolio.ROLL_BREAKDOWNS,
    "calls": (),
}
TITLES = {
    "agents": "Agent performance",
    "queues": "Queues",
    "campaigns": "Campaigns",
    "collections": "Collections",
    "liquidation": "Liquidation by placement month",
    "roll-rates": "Roll rates",
    "calls": "Call detail records",
}
DEFAULT_DAYS = 7
NAME_MAX = 100


@dataclass(frozen=True, slots=True)
class Asked:
    """A report request, checked."""

    report: str
    rng: ReportRange
    scope: Scope
    breakdown: str
    filters: dict[str, Any]


def _today(request: web.Request) -> date:
    deps = request.app[DEPS]
    return deps.clock.now().astimezone(ZoneInfo(deps.settings.center.timezone)).date()


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[DEPS].settings.center.timezone)


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return plain_text(value, name, NAME_MAX) or None


def _ident(request: web.Request, name: str) -> int | None:
    value = request.query.get(name, "").strip()
    if not value:
        return None
    try:
        return inputs.ident(value, name)
    except inputs.InputError as exc:
        raise invalid(exc.field, exc.message) from None


def _whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    value = request.query.get(name, "").strip()
    if not value:
        return default
    try:
        return inputs.whole(value, name, low=low, high=high)
    except inputs.InputError as exc:
        raise invalid(exc.field, exc.message) from None


def _default_range(report: str, today: date, last: date | None) -> tuple[date, date]:
    """The range when `from` or `to` is not given: the last 7 days; for the liquidation the
    placement months of the year to `to`; for the roll rates the last complete month."""
    if report == "roll-rates":
        last = last or today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    last = last or today
    if report == "liquidation":
        back = last.year * 12 + last.month - 1 - 11
        return date(back // 12, back % 12 + 1, 1), last
    return last - timedelta(days=DEFAULT_DAYS - 1), last


async def _asked(request: web.Request, principal: Principal, report: str) -> Asked:
    today = _today(request)
    try:
        to = request.query.get("to")
        first, last = _default_range(report, today, inputs.day(to, "to") if to else None)
        from_ = request.query.get("from")
        first = inputs.day(from_, "from") if from_ else first
        rng = ReportRange(first, last, _zone(request))
    except inputs.InputError as exc:
        raise invalid(exc.field, exc.message) from None
    except ReportError as exc:
        raise invalid(exc.field, exc.message) from None
    choices = BREAKDOWNS[report]
    breakdown = request.query.get("breakdown") or (choices[0] if choices else "")
    if choices and breakdown not in choices:
        raise invalid("breakdown", f"one of {', '.join(choices)}")
    async with request.app[DEPS].db.session() as session:
        scope = await scope_for(session, principal.user_id, principal.role)
        filters: dict[str, Any] = {}
        if report in ("agents", "calls"):
            filters["agent_id"] = _ident(request, "agent_id")
            if filters["agent_id"] is not None and not scope.allows(filters["agent_id"]):
                raise ApiError(403, "auth.forbidden", "this operator is not in your team")
        if report == "agents":
            filters["team_id"] = _ident(request, "team_id")
            if (
                filters["team_id"] is not None
                and principal.role is not Role.ADMIN
                and filters["team_id"] != principal.user_id
            ):
                raise ApiError(403, "auth.forbidden", "you may see your own team only")
    if report == "queues":
        filters["queue"] = _text(request, "queue")
        filters["interval_minutes"] = _whole(request, "interval", 30, 1, 60)
        if filters["interval_minutes"] not in queues.INTERVALS:
            raise invalid("interval", "one of 15, 30, 60")
    if report == "campaigns":
        filters["campaign_id"] = _ident(request, "campaign_id")
    if report == "collections":
        filters["creditor"] = _text(request, "creditor")
    if report in ("liquidation", "roll-rates"):
        filters["creditor"] = _text(request, "creditor")
        filters["segment"] = _text(request, "segment")
    if report == "liquidation":
        filters["months"] = _whole(request, "months", 12, 1, portfolio.MAX_MONTHS)
    if report == "calls":
        filters["queue"] = _text(request, "queue")
        filters["campaign"] = _text(request, "campaign")
        direction = request.query.get("direction", "")
        if direction and direction not in ("inbound", "outbound", "internal"):
            raise invalid("direction", "inbound, outbound or internal")
        filters["direction"] = direction or None
    return Asked(report, rng, scope, breakdown, filters)


async def _build(request: web.Request, asked: Asked) -> Report:
    deps = request.app[DEPS]
    f = asked.filters
    try:
        async with deps.db.session() as session:
            match asked.report:
                case "agents":
                    return await agents.agent_performance(
                        session,
                        asked.rng,
                        asked.scope,
                        now=deps.clock.now(),
                        breakdown=asked.breakdown,
                        agent_id=f["agent_id"],
                        team_id=f["team_id"],
                        grace_days=deps.settings.payments.grace_days,
                    )
                case "queues":
                    return await queues.queue_report(
                        session,
                        asked.rng,
                        breakdown=asked.breakdown,
                        interval_minutes=f["interval_minutes"],
                        queue=f["queue"],
                    )
                case "campaigns":
                    return await campaigns.campaign_report(
                        session,
                        asked.rng,
                        breakdown=asked.breakdown,
                        campaign_id=f["campaign_id"],
                        abandon_limit=deps.settings.dialer.abandon_limit_pct / 100,
                    )
                case "liquidation":
                    return await portfolio.liquidation_report(
                        session,
                        asked.rng,
                        asked.scope,
                        as_of=_today(request),
                        months=f["months"],
                        creditor=f["creditor"],
                        segment=f["segment"],
                    )
                case "roll-rates":
                    return await portfolio.roll_rate_report(
                        session,
                        asked.rng,
                        asked.scope,
                        breakdown=asked.breakdown,
                        creditor=f["creditor"],
                        segment=f["segment"],
                    )
                case _:
                    return await collected.collections_report(
                        session,
                        asked.rng,
                        asked.scope,
                        breakdown=asked.breakdown,
                        creditor=f["creditor"],
                        grace_days=deps.settings.payments.grace_days,
                    )
    except ReportError as exc:
        raise invalid(exc.field, exc.message) from None


def _filename(asked: Asked) -> str:
    return f"callboard-{asked.report}-{asked.rng.first}-{asked.rng.last}.csv"


async def _stream(
    request: web.Request, asked: Asked, chunks: AsyncIterator[bytes] | Iterable[bytes]
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{_filename(asked)}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    if isinstance(chunks, AsyncIterator):
        async for chunk in chunks:
            await response.write(chunk)
    else:
        for chunk in chunks:
            await response.write(chunk)
    await response.write_eof()
    return response


def _handler(report: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        principal = require_supervisor(request)
        asked = await _asked(request, principal, report)
        built = await _build(request, asked)
        if request.query.get("format") == "csv":
            return await _stream(request, asked, export.report_csv(built))
        return web.json_response(
            {"from": asked.rng.first.isoformat(), "to": asked.rng.last.isoformat()}
            | built.to_dict()
        )

    handle.__name__ = f"report_{report}"
    return handle


async def call_records(request: web.Request) -> web.StreamResponse:
    principal = require_supervisor(request)
    asked = await _asked(request, principal, "calls")
    deps = request.app[DEPS]
    if request.query.get("format") == "csv":
        async with deps.db.session() as session:
            audit.record(
                session,
                at=deps.clock.now(),
                user_id=principal.user_id,
                action="export_calls",
                object_type="report",
                object_id="calls",
                remote_addr=client_address(request),
                range=[asked.rng.first.isoformat(), asked.rng.last.isoformat()],
                filters={k: v for k, v in asked.filters.items() if v is not None},
            )
            await session.commit()
        return await _stream_calls(request, asked)
    page = _whole(request, "page", 1, 1, 1_000_000)
    per_page = _whole(request, "per_page", 100, 1, calls.MAX_PAGE)
    async with deps.db.session() as session:
        result = await calls.call_page(
            session, asked.rng, asked.scope, page=page, per_page=per_page, **asked.filters
        )
    for row in result["calls"]:
        if row["recording_id"] is not None:
            row["recording_url"] = f"/api/recordings/{row['recording_id']}/audio"
    return web.json_response(
        {"from": asked.rng.first.isoformat(), "to": asked.rng.last.isoformat()} | result
    )


async def _stream_calls(request: web.Request, asked: Asked) -> web.StreamResponse:
    async with request.app[DEPS].db.session() as session:
        rows = calls.stream_calls(session, asked.rng, asked.scope, **asked.filters)
        return await _stream(request, asked, export.calls_csv(rows))


# -- the page --------------------------------------------------------------------------------

CHART_SERIES = {
    "agents": (("calls_handled", "Calls handled"), ("rpc", "Right-party contacts")),
    "queues": (("offered", "Offered"), ("answered", "Answered"), ("abandoned", "Abandoned")),
    "campaigns": (("attempts", "Attempts"), ("connects", "Connects"), ("rpc", "RPC")),
    "collections": (("promised", "Promised"), ("collected", "Collected on promises")),
    "liquidation": (("m1", "Month 1"), ("m3", "Month 3"), ("m6", "Month 6"), ("m12", "Month 12")),
    "roll-rates": (
        ("stayed_rate", "Stayed"),
        ("forward_rate", "Rolled forward"),
        ("back_rate", "Cured"),
        ("paid_off_rate", "Paid off"),
    ),
}
CHART_W, BAR_AREA_H, LABEL_W, MAX_BARS = 720, 14, 160, 40


def chart(report: Report) -> dict[str, Any] | None:
    """Horizontal grouped bars, one group per row, scaled to the largest value; the template
    draws them as inline SVG (no script, nothing from the network)."""
    series = CHART_SERIES.get(report.name)
    rows = report.rows[:MAX_BARS]
    if not series or not rows:
        return None
    kinds = {c.key: c.kind for c in report.columns}
    series = tuple((key, label) for key, label in series if key in kinds)
    if not series:
        return None
    percent = all(kinds[key] == "percent" for key, _ in series)
    values = [[float(row.get(key) or 0) for key, _ in series] for row in rows]
    top = max((v for group in values for v in group), default=0.0) or 1.0
    span = CHART_W - LABEL_W - 60
    groups, y = [], 0
    for row, group in zip(rows, values, strict=True):
        bars = []
        for i, value in enumerate(group):
            bars.append(
                {
                    "x": LABEL_W,
                    "y": y + i * BAR_AREA_H,
                    "w": round(span * value / top, 1),
                    "h": BAR_AREA_H - 3,
                    "series": i,
                    "value": f"{value * 100:.1f}%" if percent else f"{value:g}",
                }
            )
        groups.append({"label": str(row.get("label", ""))[:24], "y": y, "bars": bars})
        y += BAR_AREA_H * len(series) + 8
    return {
        "width": CHART_W,
        "height": y + 24,
        "legend": [label for _, label in series],
        "groups": groups,
        "legend_y": y + 14,
    }


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        seconds = int(value)
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if kind == "money":
        return f"{value:,.2f}"
    return str(value)


async def _options(request: web.Request, scope: Scope) -> dict[str, Any]:
    async with request.app[DEPS].db.session() as session:
        rows = await session.execute(
            select(User.id, User.username, User.full_name, User.role).order_by(User.username)
        )
        people = [
            {"id": uid, "name": full or name}
            for uid, name, full, role in rows
            if scope.allows(uid) and role != Role.ADMIN
        ]
    return {"agents": people}


async def reports_page(request: web.Request) -> web.Response:
    principal = require_supervisor(request)
    report = request.query.get("report", "agents")
    if report not in REPORTS:
        report = "agents"
    context: dict[str, Any] = {"error": "", "built": None, "calls": None, "chart": None}
    status = 200
    try:
        asked = await _asked(request, principal, report)
    except ApiError as exc:
        if exc.status == 403:
            raise
        context["error"], status = exc.message, exc.status
        asked = None
    if asked is not None:
        try:
            if report == "calls":
                page = _whole(request, "page", 1, 1, 1_000_000)
                async with request.app[DEPS].db.session() as session:
                    context["calls"] = await calls.call_page(
                        session, asked.rng, asked.scope, page=page, per_page=100, **asked.filters
                    )
            else:
                built = await _build(request, asked)
                context["built"] = built
                context["chart"] = chart(built)
        except ApiError as exc:
            context["error"], status = exc.message, exc.status
    query = {k: v for k, v in request.query.items() if k not in ("format", "page")}
    today = _today(request)
    return request.app[RENDERER].page(
        "reports.html",
        principal.language,
        status=status,
        user=principal,
        page="reports",
        csrf_token=request[SESSION].csrf_token,
        report=report,
        reports=[(name, TITLES[name]) for name in REPORTS],
        breakdowns=BREAKDOWNS[report],
        breakdown=asked.breakdown if asked else "",
        first=(asked.rng.first if asked else today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        last=(asked.rng.last if asked else today).isoformat(),
        q=query,
        csv_query={**query, "format": "csv"},
        cell=_cell,
        call_columns=calls.COLUMNS,
        **(await _options(request, asked.scope if asked else Scope(frozenset()))),
        **context,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)


def _summary(report: str) -> str:
    if report == "liquidation":
        return (
            "Liquidation stair-step: the debts placed from `from` to `to` (the last 12 months by"
            " default) by placement month, the cumulative share of the placed balance collected"
            " after 1..months months; format=csv streams it as CSV. Supervisors see their team's"
            " assigned debts, administrators every debt"
        )
    if report == "roll-rates":
        return (
            "Roll rates between days-past-due buckets (current, 1-30, 31-60, 61-90, 91-180,"
            " 180+) from each month end in `from`..`to` (the last complete month by default) to"
            " the one before: stayed, rolled forward, cured, paid off, by count and balance;"
            " format=csv streams it as CSV. Supervisors see their team's assigned debts,"
            " administrators every debt"
        )
    return (
        f"{TITLES[report]} report for a range of local days (from, to; the last 7 days by"
        " default) with a breakdown and filters; format=csv streams it as CSV. Supervisors see"
        " their team, administrators everyone"
    )


_FILTERS = {
    "agents": (("breakdown", "agent, day or team"), ("agent_id", "one operator"),
               ("team_id", "one team (its supervisor's user id)")),
    "queues": (("breakdown", "queue, day or interval"), ("interval", "15, 30 or 60 minutes"),
               ("queue", "one queue")),
    "campaigns": (("breakdown", "campaign or day"), ("campaign_id", "one campaign")),
    "collections": (("breakdown", "creditor or day"), ("creditor", "one creditor")),
    "liquidation": (("months", "columns, 1 to 36 (12)"), ("creditor", "one creditor"),
                    ("segment", "one portfolio (the debts' segment)")),
    "roll-rates": (("breakdown", "bucket or month"), ("creditor", "one creditor"),
                   ("segment", "one portfolio (the debts' segment)")),
}  # fmt: skip
_COMMON = (("from", "first local day, YYYY-MM-DD"), ("to", "last local day, YYYY-MM-DD"),
           ("format", "json (default) or csv"))  # fmt: skip

_CALL_FILTERS = (
    ("page", "from 1"),
    ("per_page", "1 to 500"),
    ("queue", "one queue"),
    ("agent_id", "one operator"),
    ("direction", "inbound, outbound or internal"),
    ("campaign", "one campaign's name"),
)
ROUTES = (
    *(
        ApiRoute(
            "GET",
            f"/api/reports/{name}",
            _handler(name),
            _summary(name),
            "supervisor",
            query=(*_COMMON, *_FILTERS[name]),
            tags=("reports",),
        )
        for name in ("agents", "queues", "campaigns", "collections", "liquidation", "roll-rates")
    ),
    ApiRoute(
        "GET",
        "/api/reports/calls",
        call_records,
        "Call detail records of a range: queue, operator, disposition, recording id (played"
        " from /api/recordings/{id}/audio), hangup cause; paged (page, per_page up to 500), or"
        " every call as a streamed CSV with format=csv (audited)",
        "supervisor",
        query=(*_COMMON, *_CALL_FILTERS),
        tags=("reports",),
    ),
)
