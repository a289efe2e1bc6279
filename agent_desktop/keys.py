"""The app's typed keys and the dependencies it is built from (no globals anywhere)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from agent_desktop.board import LiveBoard
from agent_desktop.hub import Hub
from agent_desktop.i18n import Renderer
from agent_desktop.login_guard import FailureCoalescer, LoginTokens
from agent_desktop.ports import AgentControl
from agent_desktop.sessions import SessionStore
from agent_desktop.throttle import LoginThrottle, TrustedProxies
from ami_bridge.switch import Switch
from crm_core.bus import Bus
from crm_core.clock import Clock, SystemClock
from crm_core.config import Settings
from crm_core.db import Database
from crm_core.dispositions import DEFAULT_DISPOSITIONS, DispositionCode
from crm_core.search_scope import SearchScope


@dataclass(frozen=True, slots=True, kw_only=True)
class DesktopDeps:
    """Everything the web app uses, handed in by the composition root (`callboard`)."""

    db: Database
    bus: Bus
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    acd: AgentControl | None = None
    switch: Switch | None = None
    dialer: object | None = None  # the campaign panel arrives with the dialer
    seats: object | None = None  # dialer.seats.CampaignSeats: campaigns from the desk
    preview: object | None = None  # dialer.preview.PreviewDesk: preview campaigns' debtors
    dispositions: tuple[DispositionCode, ...] = DEFAULT_DISPOSITIONS
    pause_reasons: tuple[str, ...] = ("break", "lunch", "training", "meeting", "technical")
    # transfer targets: the dialplan context that reaches a queue or an operator
    queue_transfer_context: str = "cb-inbound"
    agent_transfer_context: str = "cb-xfer"
    hold_context: str = "cb-hold"
    supervisor_endpoint_default: str = ""


DEPS = web.AppKey("deps", DesktopDeps)
SESSIONS = web.AppKey("sessions", SessionStore)
THROTTLE = web.AppKey("throttle", LoginThrottle)
LOGIN_TOKENS = web.AppKey("login_tokens", LoginTokens)
LOGIN_FAILURES = web.AppKey("login_failures", FailureCoalescer)
PROXIES = web.AppKey("proxies", TrustedProxies)
BOARD = web.AppKey("board", LiveBoard)
SEARCH_SCOPE = web.AppKey("search_scope", SearchScope)
HUB = web.AppKey("hub", Hub)
RENDERER = web.AppKey("renderer", Renderer)
