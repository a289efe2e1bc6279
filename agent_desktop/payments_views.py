"""The web edge of payments and payment plans (crm_core.payments, crm_core.arrangements): HTTP in,
calls of the domain, its refusals as API errors. No rule lives here.

- `POST /api/debts/{debt_id}/payments`: post a payment (the desk's form and integrators); an
  operator may post on a debt whose card they may open (their call, an offer, a card opened
  from a search with a purpose, their own past call); supervisors on any. A repeat with the
  same reference answers the first post.
- `GET /api/debts/{debt_id}/payments`: the debt's payments and payment plans.
- `GET /api/collections/due`: promises and instalments due today and missed yesterday
  (supervisors).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from agent_desktop.api_desk import _may_open
from agent_desktop.api_routes import STRING, ApiRoute, json_body
from agent_desktop.errors import ApiError, invalid, not_found, path_id, read_json
from agent_desktop.keys import DEPS, DesktopDeps
from agent_desktop.security import client_address, require, require_supervisor
from crm_core import payments
from crm_core.arrangements import CollectionRules, due_and_broken
from crm_core.models import Arrangement, Debt, Instalment, Payment

_STATUS = {"not_found": 404, "payment.duplicate_reference": 409, "payment.overpayment": 422}


def _today(deps: DesktopDeps) -> date:
    return deps.clock.now().astimezone(ZoneInfo(deps.settings.center.timezone)).date()


async def _debt_for(request: web.Request, debt_id: int) -> Debt:
    principal = require(request)
    async with request.app[DEPS].db.session() as session:
        debt = await session.get(Debt, debt_id)
    if debt is None:
        raise not_found(f"debt {debt_id}")
    if not await _may_open(request, principal, debt.contact_id):
        raise ApiError(403, "auth.forbidden", "this debtor's card was not offered to you")
    return debt


async def post_payment(request: web.Request) -> web.Response:
    principal = require(request)
    deps = request.app[DEPS]
    debt_id = path_id(request, "debt_id")
    await _debt_for(request, debt_id)
    body = await read_json(request)
    source = "desk" if body.get("source") == "desk" else "api"
    try:
        payment = payments.parse(body, debt_id, _today(deps))
        posted = await payments.record(
            deps.db,
            payment,
            now=deps.clock.now(),
            today=_today(deps),
            rules=CollectionRules.from_settings(deps.settings),
            user_id=principal.user_id,
            source=source,
            remote_addr=client_address(request),
        )
    except payments.PaymentRefused as exc:
        if exc.code == "invalid_input":
            raise invalid(exc.field, exc.message) from exc
        raise ApiError(
            _STATUS.get(exc.code, 409), exc.code, exc.message, {"field": exc.field}
        ) from exc
    return web.json_response(posted.to_dict(), status=200 if posted.repeated else 201)


async def debt_payments(request: web.Request) -> web.Response:
    debt_id = path_id(request, "debt_id")
    debt = await _debt_for(request, debt_id)
    async with request.app[DEPS].db.session() as session:
        rows = await session.scalars(
            select(Payment)
            .where(Payment.debt_id == debt_id)
            .order_by(Payment.paid_on.desc(), Payment.id.desc())
            .limit(500)
        )
        items = [
            {
                "id": p.id,
                "amount": str(p.amount),
                "paid_on": p.paid_on.isoformat(),
                "method": p.method,
                "reference": p.reference,
                "source": p.source,
            }
            for p in rows
        ]
        plans = list(
            await session.scalars(
                select(Arrangement)
                .where(Arrangement.debt_id == debt_id)
                .order_by(Arrangement.created_at.desc())
            )
        )
        instalments: dict[int, list[dict[str, Any]]] = {}
        if plans:
            for item in await session.scalars(
                select(Instalment)
                .where(Instalment.arrangement_id.in_([p.id for p in plans]))
                .order_by(Instalment.arrangement_id, Instalment.seq)
            ):
                instalments.setdefault(item.arrangement_id, []).append(
                    {
                        "seq": item.seq,
                        "amount": str(item.amount),
                        "due_on": item.due_on.isoformat(),
                        "status": str(item.status),
                        "paid": str(item.paid),
                    }
                )
    return web.json_response(
        {
            "debt_id": debt.id,
            "balance": str(debt.balance),
            "currency": debt.currency,
            "status": str(debt.status),
            "payments": items,
            "plans": [
                {
                    "id": p.id,
                    "status": str(p.status),
                    "total": str(p.total),
                    "created_at": p.created_at.isoformat(),
                    "instalments": instalments.get(p.id, []),
                }
                for p in plans
            ],
        }
    )


async def collections_due(request: web.Request) -> web.Response:
    require_supervisor(request)
    deps = request.app[DEPS]
    today = _today(deps)
    async with deps.db.session() as session:
        lists = await due_and_broken(session, today, CollectionRules.from_settings(deps.settings))
    return web.json_response({"today": today.isoformat(), **lists})


ROUTES = (
    ApiRoute(
        "POST",
        "/api/debts/{debt_id}/payments",
        post_payment,
        "Post a payment on a debt (balance and status updated, audited; an overpayment is"
        " refused with 422 payment.overpayment; a repeat with the same reference answers the"
        " first post, another payment with it is 409 payment.duplicate_reference)",
        "operator",
        body=json_body(amount=STRING, paid_on=STRING, method=STRING, reference=STRING),
        tags=("payments",),
    ),
    ApiRoute(
        "GET",
        "/api/debts/{debt_id}/payments",
        debt_payments,
        "A debt's payments and payment plans (each instalment's state)",
        "operator",
        tags=("payments",),
    ),
    ApiRoute(
        "GET",
        "/api/collections/due",
        collections_due,
        "Promises and plan instalments due today, and those missed yesterday (their last day"
        " to pay, date plus [payments] grace_days, was yesterday)",
        "supervisor",
        tags=("payments",),
    ),
)
