"""Fixtures for the desktop: a real SQLite database with users and debtors, the real app served
on a local port, an ACD made of routing's own agent state machine, and a Switch whose AMI port
records the actions it is asked to send (until pbx_sim's AMI server takes over)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, async_playwright

from agent_desktop.acd_adapter import RoutingAgentControl
from agent_desktop.app import create_app
from agent_desktop.keys import DesktopDeps
from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import DialplanTarget, Headers, OriginateRequest, Reply, Switch
from crm_core.auth import hash_password
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock, SystemClock
from crm_core.config import Settings
from crm_core.db import Database
from crm_core.models import (
    Contact,
    ContactPhone,
    Debt,
    Payment,
    Phone,
    PromiseToPay,
    Role,
    User,
)
from pbx_sim import AgentPhone, PbxSim, SimConfig
from routing.acd import Acd
from routing.agent_state import AgentState
from routing.agents import AgentBook
from routing.queues import QueueConfig
from routing.service import AcdService
from tests.agent_desktop.browser_support import CHROMIUM, CHROMIUM_ARGS

PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)  # scrypt is slow on purpose: hash once for every test user
XSS_NAME = "<script>alert(1)</script>"
CALLER = "+447911123456"


class BookAcd:
    """The desktop's AgentControl over routing's real agent state machine (AgentBook)."""

    def __init__(self, clock: ManualClock, bus: InProcessBus) -> None:
        self.book = AgentBook(clock, bus.publish)

    async def login(self, agent_id: str) -> None:
        self.book.move(self.book.register(agent_id), AgentState.READY)

    async def logout(self, agent_id: str) -> None:
        self.book.move(self.book.get(agent_id), AgentState.LOGGED_OUT)

    async def ready(self, agent_id: str) -> None:
        self.book.move(self.book.get(agent_id), AgentState.READY)

    async def pause(self, agent_id: str, reason: str) -> None:
        self.book.move(self.book.get(agent_id), AgentState.PAUSED, reason=reason)

    async def extend_wrap_up(self, agent_id: str, seconds: float) -> None:
        self.book.expect(self.book.get(agent_id), AgentState.WRAP_UP, doing="extend wrap-up")

    def move(self, agent_id: str, state: AgentState, linkedid: str | None = None) -> None:
        self.book.move(self.book.register(agent_id), state, linkedid=linkedid)


@dataclass
class RecordingPort:
    """An ActionPort that answers every action with Success and remembers what was sent."""

    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def send(
        self, action: str, headers: Headers, *, reply_timeout: float | None = None
    ) -> Reply:
        await self._record(action, headers)
        return {"Response": "Success"}

    async def _record(self, action: str, headers: Headers) -> None:
        async with self._changed:
            self.sent.append((action, dict(headers)))
            self._changed.notify_all()

    async def actions(self, count: int) -> list[str]:
        """The names of the first `count` actions, once that many have been sent."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.sent) >= count)
        return [action for action, _ in self.sent[:count]]

    async def originate(
        self, headers: Headers, *, reply_timeout: float | None = None, result_timeout: float
    ) -> Reply:
        await self._record("Originate", headers)
        return {"Response": "Success", "Reason": "4", "Channel": dict(headers)["Channel"]}


@dataclass
class Env:
    db: Database
    bus: InProcessBus
    clock: ManualClock
    acd: BookAcd
    port: RecordingPort
    users: dict[str, int]
    contact_id: int
    debt_id: int
    xss_contact_id: int
    server: TestServer | None = None


async def seed(db: Database, now: datetime) -> tuple[dict[str, int], int, int, int]:
    async with db.session() as s:
        users = {}
        for name, role, endpoint, language in (
            ("op1", Role.OPERATOR, "Local/agent1@cb-agents", "en"),
            ("op2", Role.OPERATOR, "Local/agent2@cb-agents", "ru"),
            ("sup", Role.SUPERVISOR, "Local/sup1@cb-supervisor", "en"),
            ("admin", Role.ADMIN, "", "en"),
        ):
            user = User(
                username=name,
                full_name=name.upper(),
                role=role,
                password_hash=_HASH,
                endpoint=endpoint,
                language=language,
                created_at=now,
            )
            s.add(user)
            await s.flush()
            users[name] = user.id
        debtor = Contact(
            first_name="Ivan",
            last_name="Petrov",
            external_ref="C-1001",
            timezone="Europe/London",
            created_at=now,
            updated_at=now,
        )
        xss = Contact(first_name=XSS_NAME, last_name="", created_at=now, updated_at=now)
        phone = Phone(e164=CALLER, raw="07911 123456")
        s.add_all([debtor, xss, phone])
        await s.flush()
        s.add(ContactPhone(contact_id=debtor.id, phone_id=phone.id, is_primary=True))
        debt = Debt(
            contact_id=debtor.id,
            creditor="Northwind Bank",
            reference="NW-778812",
            principal=Decimal("2000.00"),
            balance=Decimal("1500.00"),
            currency="GBP",
            due_date=date(2026, 8, 1),
            created_at=now,
        )
        s.add(debt)
        await s.flush()
        s.add(Payment(debt_id=debt.id, amount=Decimal("500.00"), paid_on=date(2026, 9, 3)))
        s.add(
            PromiseToPay(
                debt_id=debt.id,
                amount=Decimal("200.00"),
                due_on=date(2026, 10, 1),
                status="broken",
                created_at=now,
            )
        )
        await s.commit()
        return users, debtor.id, debt.id, xss.id


@pytest.fixture
async def env(sqlite_db: Database) -> AsyncIterator[Env]:
    clock = ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    bus = InProcessBus()
    users, contact_id, debt_id, xss_id = await seed(sqlite_db, clock.now())
    yield Env(
        sqlite_db,
        bus,
        clock,
        BookAcd(clock, bus),
        RecordingPort(),
        users,
        contact_id,
        debt_id,
        xss_id,
    )
    bus.close()


def deps_for(env: Env, **overrides: object) -> DesktopDeps:
    settings = Settings()
    values = dict(
        db=env.db,
        bus=env.bus,
        settings=settings,
        clock=env.clock,
        acd=env.acd,
        switch=Switch(env.port, number_endpoint="Local/{number}@pstn-sim"),
    )
    values.update(overrides)
    return DesktopDeps(**values)  # type: ignore[arg-type]


@pytest.fixture
def desk_deps() -> Callable[..., DesktopDeps]:
    """Builds the app's dependencies from an Env (for tests that serve the app themselves)."""
    return deps_for


@pytest.fixture
async def client(env: Env) -> AsyncIterator[TestClient]:
    app = create_app(deps_for(env))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@dataclass
class Stack:
    client: TestClient
    sim: PbxSim
    bridge: AmiBridge
    acd: AcdService

    async def queue_caller(self, linkedid: str, contact_id: int) -> None:
        """A caller on music on hold in cb-hold (trace 03), queued as the IVR would queue it."""
        result = await self.bridge.switch.originate(
            OriginateRequest(
                endpoint="Local/100@cb-hold",
                target=DialplanTarget("caller-sim", "s", 1),
                caller_id='"Ivan" <5551234>',
                variables={"HOLD_SECS": "60", "DTMF_DELAY": "0"},
                channel_id=linkedid,
            )
        )
        assert result.answered
        self.acd.enqueue(
            linkedid=linkedid,
            queue="collections",
            caller_channel=result.channel.removesuffix(";1") + ";2",
            caller_number="5551234",
            contact_id=contact_id,
            ivr_path=("language:en", "account"),
        )


@pytest.fixture
async def pbx_stack(env, desk_deps) -> AsyncIterator[Stack]:
    clock = SystemClock()
    sim = PbxSim(SimConfig())
    await sim.start()
    sim.add_agent_phone("agent1", AgentPhone(ring_secs=0.2, talk_secs=60))
    config = LinkConfig(
        port=sim.ami_port,
        username="callboard",
        secret="cbsecret",
        ping_interval=0.5,
        dead_after=2.0,
        action_timeout=2.0,
        connect_timeout=2.0,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    bridge = AmiBridge(config, bus=env.bus, clock=clock, db=env.db)
    acd = AcdService(
        Acd(clock, [QueueConfig(name="collections", wrap_up_s=60, ring_timeout_s=5)]),
        bus=env.bus,
        switch=bridge.switch,
        clock=clock,
        db=env.db,
        stats_interval_s=60,
    )
    await bridge.start()
    await bridge.link.wait_up(3)
    await acd.start()
    app = create_app(
        desk_deps(env, clock=clock, acd=RoutingAgentControl(acd, env.db), switch=bridge.switch)
    )
    try:
        async with TestClient(TestServer(app)) as client:
            yield Stack(client, sim, bridge, acd)
    finally:
        await acd.stop()
        await bridge.stop()
        await sim.stop()


_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


SignIn = Callable[..., Awaitable[str]]


@pytest.fixture
def sign_in() -> SignIn:
    return _sign_in


async def _sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Signs in through the real form; returns the session's CSRF token for API calls."""
    page = await client.get("/login")
    token = _CSRF_INPUT.search(await page.text())
    assert token is not None
    response = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    desk = await client.get("/")
    meta = _CSRF_META.search(await desk.text())
    assert meta is not None
    return meta.group(1)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, driven by Playwright (no browser download: the machine has no
    internet)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()
