"""The supervisors' campaign panel: live figures per campaign, start / pause / stop, and the
manual-dial refusals waiting for a supervisor's approval.

Figures come from the attempt ledger (the legal record: today's attempts, contacts, right-party
contacts and promises; abandoned calls over 24 h and 30 days against the campaign's limit) and
from the campaign's running dialer (state, lines in use, operators, the pacer's reasoning).
The composition root hands the dialers in as `DesktopDeps.dialer`: a mapping of campaign id to
`dialer.service.CampaignDialer`. Dialer events on the bus are coalesced and pushed to the
`panel` topic, so browsers redraw a campaign at most every `flush_s`. A DialerAlert (the
breaker paused a campaign: the PBX or the trunk cannot place calls) is also pushed at once as a
`campaign_alert`, the way recording alerts reach the same panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import and_, case, func, or_, select

from agent_desktop import manual_dial
from agent_desktop.api_routes import STRING, ApiRoute, json_body
from agent_desktop.audit_trail import audit_request
from agent_desktop.board import PANEL
from agent_desktop.errors import ApiError, not_found, path_id, read_json, unavailable
from agent_desktop.hub import Hub
from agent_desktop.keys import DEPS, HUB, DesktopDeps
from agent_desktop.manual_dial import (
    MANUAL_CAMPAIGN,
    MANUAL_DIAL,
    ManualDialGuard,
    reason_from,
    supervisor,
)
from crm_core.models import Interaction, PromiseToPay
from dialer.attempts import AttemptOutcome
from dialer.campaign import CampaignError, CampaignState, CampaignStateError
from dialer.compliance import Compliance
from dialer.events import (
    AttemptPlaced,
    AttemptResolved,
    CampaignFigures,
    CampaignStateChanged,
    DialerAlert,
    OperatorActivity,
)
from dialer.leads import load_do_not_call, load_leads
from dialer.ledger import AttemptLedger
from dialer.operators import OperatorState
from dialer.selection import select as select_leads
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings
from dialer.tables import CampaignRow, DialAttemptRow

log = logging.getLogger(__name__)

DIALER_EVENTS = (
    CampaignStateChanged,
    AttemptPlaced,
    AttemptResolved,
    OperatorActivity,
    CampaignFigures,
    DialerAlert,
)
NEAR_LIMIT = 0.8  # an abandon rate at 80 % of the limit turns the panel amber
LIST_CHECK_TTL_S = 60.0  # the list check loads every lead: at most once a minute per campaign
A = DialAttemptRow


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _n(*conditions: Any) -> Any:
    """How many attempt rows meet every condition (portable: no FILTER clause)."""
    return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)


class CampaignPanel:
    """What the panel shows about each campaign, and the feed that keeps browsers current."""

    def __init__(self, deps: DesktopDeps, hub: Hub, flush_s: float = 0.5) -> None:
        self._deps = deps
        self._hub = hub
        self._zone = ZoneInfo(deps.settings.center.timezone)
        self.flush_s = flush_s
        self._lists: dict[int, tuple[float, dict[str, Any]]] = {}

    def dialers(self) -> Mapping[int, CampaignDialer]:
        """The running dialers; `dialer.unavailable` when none are connected to this desktop."""
        dialers = self._deps.dialer
        if not isinstance(dialers, Mapping):
            raise unavailable("dialer")
        return dialers

    def _live(self, campaign_id: int) -> CampaignDialer | None:
        dialers = self._deps.dialer
        return dialers.get(campaign_id) if isinstance(dialers, Mapping) else None

    # -- reading -------------------------------------------------------------------------------

    async def rows(self) -> list[CampaignRow]:
        query = select(CampaignRow).where(CampaignRow.name != MANUAL_CAMPAIGN)
        async with self._deps.db.session() as session:
            return list((await session.scalars(query.order_by(CampaignRow.name))).all())

    async def row(self, campaign_id: int) -> CampaignRow:
        async with self._deps.db.session() as session:
            row = await session.get(CampaignRow, campaign_id)
        if row is None or row.name == MANUAL_CAMPAIGN:
            raise not_found(f"campaign {campaign_id}")
        return row

    async def view(self, row: CampaignRow) -> dict[str, Any]:
        now = self._deps.clock.now()
        dialer = self._live(row.id)
        settings_error = None
        settings: CampaignSettings | None
        if dialer is not None:
            settings = dialer.campaign.settings
        else:
            try:
                settings = row.campaign_settings()
            except CampaignError as exc:
                settings, settings_error = None, str(exc)
        target = settings.target_abandon_rate if settings else None
        return {
            "id": row.id,
            "name": row.name,
            "state": dialer.campaign.state.value if dialer else row.state,
            "reason": dialer.campaign.reason if dialer else row.state_reason,
            "mode": settings.dial_mode.value if settings else None,
            "loaded": dialer is not None,
            "settings_error": settings_error,
            **await self._ledger_figures(row.id, now, target),
            **_dialer_figures(dialer),
            "list": await self._list(row.id, settings, now) if settings else None,
            "at": now.isoformat(),
        }

    async def _ledger_figures(
        self, campaign_id: int, now: datetime, target: float | None
    ) -> dict[str, Any]:
        """Today's results and the abandon rates; red at the legal limit (the center's
        setting), amber from the campaign's own target or 80 % of the limit, whichever first."""
        local = now.astimezone(self._zone)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        day_ago, human = now - timedelta(days=1), A.outcome == "human"
        # dials that never left the PBX are on record but are not attempts on the debtor
        not_dialled = A.outcome == AttemptOutcome.NOT_DIALLED.value
        counted = or_(A.outcome.is_(None), A.outcome != AttemptOutcome.NOT_DIALLED.value)
        query = select(
            _n(A.started_at >= day_start, counted),
            _n(A.started_at >= day_start, human, A.agent_id.is_not(None)),
            _n(A.started_at >= day_start, A.right_party_contact),
            _n(A.started_at > day_ago, human),
            _n(A.started_at > day_ago, A.abandoned),
            _n(human),
            _n(A.abandoned),
            _n(A.started_at >= day_start, not_dialled),
        ).where(A.campaign_id == campaign_id, A.started_at > now - timedelta(days=30))
        promises = (
            select(func.count(PromiseToPay.id))
            .join(Interaction, Interaction.id == PromiseToPay.interaction_id)
            .join(A, A.attempt_id == Interaction.linkedid)
            .where(A.campaign_id == campaign_id, PromiseToPay.created_at >= day_start)
        )
        async with self._deps.db.session() as session:
            figures = (await session.execute(query)).one()
            promised = await session.scalar(promises) or 0
        attempts, contacts, rpc, live_24h, abandoned_24h, live_30d, abandoned_30d, refused = map(
            int, figures
        )
        rate_24h, rate_30d = _share(abandoned_24h, live_24h), _share(abandoned_30d, live_30d)
        worst = max(rate_24h or 0.0, rate_30d or 0.0)
        limit = self._deps.settings.dialer.abandon_limit_pct / 100
        near = min(NEAR_LIMIT * limit, target if target is not None else limit)
        level = "over" if worst >= limit else "near" if worst >= near else "ok"
        return {
            "today": {
                "attempts": attempts,
                "contacts": contacts,
                "right_party_contacts": rpc,
                "promises": int(promised),
                "not_dialled": refused,
            },
            "abandon": {
                "rate_24h": rate_24h,
                "rate_30d": rate_30d,
                "live_24h": live_24h,
                "abandoned_24h": abandoned_24h,
                "live_30d": live_30d,
                "abandoned_30d": abandoned_30d,
                "limit": limit,
                "target": target,
                "level": level,
            },
        }

    async def _list(
        self, campaign_id: int, settings: CampaignSettings, now: datetime
    ) -> dict[str, Any]:
        """List exhaustion: of the debts the filter selects, how many the campaign is not done
        with, how many the rules allow right now, and why the others wait."""
        cached = self._lists.get(campaign_id)
        if cached is not None and self._deps.clock.monotonic() - cached[0] < LIST_CHECK_TTL_S:
            return cached[1]
        db = self._deps.db
        leads = await load_leads(db, settings, now)
        compliance = Compliance(settings.compliance, await load_do_not_call(db, campaign_id))
        c = settings.compliance
        lookback = max(c.attempts_window, c.quiet_after_conversation, c.abandoned_redial_gap)
        figures: dict[str, Any] = {
            "total": len(leads),
            "remaining": 0,
            "eligible_now": 0,
            "waiting": 0,
            "finished": 0,
            "refused": {},
            "next_eligible_at": None,
            "checked_at": now.isoformat(),
        }
        if leads:
            dialer = self._live(campaign_id)
            history = await AttemptLedger(db).history(
                since=now - lookback - timedelta(days=1), debt_ids=[x.debt_id for x in leads]
            )
            chosen = await asyncio.to_thread(  # pure but long for big lists: off the loop
                select_leads,
                leads,
                count=len(leads),
                now=now,
                campaign_id=campaign_id,
                compliance=compliance,
                retry=settings.retry,
                history=history,
                not_dialled_since=dialer.not_dialled_since if dialer else None,
            )
            remaining = len(leads) - chosen.finished
            figures.update(
                remaining=remaining,
                eligible_now=len(chosen.picks),
                waiting=remaining - len(chosen.picks),
                finished=chosen.finished,
                refused={rule.value: n for rule, n in chosen.refused.items()},
                next_eligible_at=chosen.wake_at.isoformat() if chosen.wake_at else None,
            )
        self._lists[campaign_id] = (self._deps.clock.monotonic(), figures)
        return figures

    # -- the live feed -------------------------------------------------------------------------

    async def run(self) -> None:
        """Dialer events -> one push per changed campaign per `flush_s`, until cancelled."""
        subscription = self._deps.bus.subscribe(
            "agent_desktop.campaigns", *DIALER_EVENTS, maxsize=10_000
        )
        try:
            while True:
                changed = [await subscription.get()]
                await asyncio.sleep(self.flush_s)  # let a burst of events settle into one push
                while (more := subscription.get_nowait()) is not None:
                    changed.append(more)
                for event in changed:
                    if isinstance(event, CampaignStateChanged):
                        self._lists.pop(event.campaign_id, None)
                    if isinstance(event, DialerAlert):
                        self._hub.publish(PANEL, alert_message(event))
                await self._push({getattr(e, "campaign_id", -1) for e in changed})
        finally:
            self._deps.bus.unsubscribe(subscription)

    async def _push(self, campaign_ids: set[int]) -> None:
        for campaign_id in sorted(campaign_ids):
            try:
                view = await self.view(await self.row(campaign_id))
            except ApiError:  # not a campaign of the panel (the manual-dial row, or deleted)
                continue
            except Exception:  # the feed's task boundary: one bad campaign must not end it
                log.exception("campaign %s: panel figures skipped", campaign_id)
                continue
            self._hub.publish(PANEL, {"type": "campaign", "campaign": view})


def alert_message(event: DialerAlert) -> dict[str, Any]:
    """What the supervisor panels are told when the dialer needs a person (the breaker)."""
    return {
        "type": "campaign_alert",
        "campaign_id": event.campaign_id,
        "name": event.name,
        "kind": event.kind,
        "detail": event.detail,
        "at": event.at.isoformat(),
    }


def _dialer_figures(dialer: CampaignDialer | None) -> dict[str, Any]:
    """What only the running dialer knows: its session counters, lines and operators."""
    if dialer is None:
        return {
            "session": None,
            "lines_in_use": 0,
            "dial_level": None,
            "operators": None,
            "pacing": "",
            "breaker": None,
        }
    operators = list(dialer.roster)
    working = [op for op in operators if op.state is not OperatorState.PAUSED]
    lines = dialer.live_calls
    return {
        "session": dialer.campaign.counters.to_dict(),
        "lines_in_use": lines,
        "dial_level": {
            "lines_per_operator": round(lines / len(working), 2) if working else None,
            "max_lines_per_operator": dialer.campaign.settings.max_lines_per_agent,
        },
        "operators": {
            "assigned": len(dialer.campaign.settings.operators),
            "on_line": len(operators),
            **{state.value: sum(op.state is state for op in operators) for state in OperatorState},
            "list": [{"agent_id": op.agent_id, "state": op.state.value} for op in operators],
        },
        "pacing": dialer.last_pacing,
        "breaker": dialer.breaker.to_dict(),
    }


CAMPAIGNS = web.AppKey("campaigns", CampaignPanel)


def _campaign_id(request: web.Request) -> int:
    return path_id(request, "campaign_id")


async def list_campaigns(request: web.Request) -> web.Response:
    supervisor(request, "see campaigns")
    panel = request.app[CAMPAIGNS]
    items = [await panel.view(row) for row in await panel.rows()]
    now = request.app[DEPS].clock.now()
    return web.json_response({"items": items, "server_now": now.isoformat()})


async def get_campaign(request: web.Request) -> web.Response:
    supervisor(request, "see campaigns")
    panel = request.app[CAMPAIGNS]
    return web.json_response(await panel.view(await panel.row(_campaign_id(request))))


def _control(to: CampaignState, verb: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        principal = supervisor(request, "start, pause or stop campaigns")
        panel = request.app[CAMPAIGNS]
        campaign_id = _campaign_id(request)
        body = await read_json(request)
        if to is CampaignState.RUNNING and not str(body.get("reason") or "").strip():
            reason = f"started by {principal.username}"
        else:
            reason = reason_from(body, "reason")
        row = await panel.row(campaign_id)
        dialer = panel.dialers().get(campaign_id)
        if dialer is None:
            raise ApiError(
                409, "campaign.not_loaded", f"campaign {row.name!r} has no dialer on this node"
            )
        before = dialer.campaign.state
        try:
            await dialer.move(to, reason)
        except CampaignStateError as exc:
            raise ApiError(409, "campaign.bad_state", str(exc), {"state": before.value}) from exc
        await audit_request(
            request,
            user_id=principal.user_id,
            action=f"campaign_{verb}",
            object_type="campaign",
            object_id=campaign_id,
            reason=reason,
            before=before.value,
            after=to.value,
        )
        return web.json_response(await panel.view(row))

    return handler


def setup(app: web.Application) -> None:
    """The panel, the manual-dial guard and the feed's task (owned by the app's cleanup)."""
    deps, hub = app[DEPS], app[HUB]
    panel = CampaignPanel(deps, hub)
    app[CAMPAIGNS] = panel
    app[MANUAL_DIAL] = ManualDialGuard(deps.db, hub, deps.clock, deps.settings)

    async def feed(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(panel.run(), name="desktop-campaign-feed")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(feed)


REASON = json_body(reason=STRING)
ROUTES = (
    ApiRoute("GET", "/api/campaigns", list_campaigns, "Campaigns with live figures", "supervisor"),
    ApiRoute("GET", "/api/campaigns/{campaign_id}", get_campaign, "One campaign", "supervisor"),
    ApiRoute(
        "POST",
        "/api/campaigns/{campaign_id}/start",
        _control(CampaignState.RUNNING, "start"),
        "Start or resume a campaign (reason optional)",
        "supervisor",
        REASON,
    ),
    ApiRoute(
        "POST",
        "/api/campaigns/{campaign_id}/pause",
        _control(CampaignState.PAUSED, "pause"),
        "Pause a campaign (reason required)",
        "supervisor",
        REASON,
    ),
    ApiRoute(
        "POST",
        "/api/campaigns/{campaign_id}/stop",
        _control(CampaignState.STOPPED, "stop"),
        "Stop a campaign (reason required)",
        "supervisor",
        REASON,
    ),
    *manual_dial.ROUTES,
)
