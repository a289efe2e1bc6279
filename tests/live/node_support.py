"""The product's real composition (`callboard.node.start_node`) against the live Asterisk: a seeded
SQLite database, settings pointing at the session's PBX, and a bus observer that keeps every
event with the wall-clock time it was published."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from agent_desktop.acd_adapter import RoutingAgentControl
from callboard.demo import DEMO_FLOWS
from callboard.migrate import upgrade_async
from callboard.node import Node, start_node
from crm_core.auth import hash_password
from crm_core.bus import Event
from crm_core.config import Settings, load_settings
from crm_core.db import Database
from crm_core.models import (
    Contact,
    ContactPhone,
    Debt,
    Interaction,
    Phone,
    QueueDefinition,
    Role,
    Skill,
    User,
    UserSkill,
)
from tests.live.asterisk import CALLBOARD_SECRET, CALLBOARD_USER, LivePbx, free_port

E = TypeVar("E", bound=Event)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KNOWN_NUMBER = "+12125550142"  # Ivan Petrov's phone
ACCOUNT = "77001234"  # Maria Ivanova's debt reference: she calls from a number we do not know
UNKNOWN_NUMBER = "+12125550199"


@dataclass
class Seeded:
    operators: dict[str, int]  # username -> user id
    ivan: int
    maria: int


async def seed(url: str, operators: dict[str, str]) -> Seeded:
    """`operators`: username -> endpoint. Two debtors, skills, the collections queue."""
    await upgrade_async(url)
    db = await Database.open(url)
    async with db.session() as s:
        ivan = Contact(
            first_name="Ivan", last_name="Petrov", language="en", created_at=NOW, updated_at=NOW
        )
        maria = Contact(
            first_name="Maria", last_name="Ivanova", language="ru", created_at=NOW, updated_at=NOW
        )
        phone = Phone(e164=KNOWN_NUMBER, raw=KNOWN_NUMBER)
        s.add_all([ivan, maria, phone])
        await s.flush()
        s.add(ContactPhone(contact_id=ivan.id, phone_id=phone.id, is_primary=True))
        for contact, ref, balance in ((ivan, "ACC-1", "812.40"), (maria, ACCOUNT, "455.10")):
            s.add(
                Debt(
                    contact_id=contact.id,
                    creditor="Acme Bank",
                    reference=ref,
                    principal=Decimal("900"),
                    balance=Decimal(balance),
                    due_date=date(2026, 8, 1),
                    created_at=NOW,
                )
            )
        skills = [Skill(name=n) for n in ("collections", "lang_en", "lang_ru")]
        users = [
            User(
                username=name,
                role=Role.OPERATOR,
                password_hash=hash_password("x"),
                endpoint=endpoint,
                created_at=NOW,
            )
            for name, endpoint in operators.items()
        ]
        s.add_all(
            [
                *skills,
                *users,
                QueueDefinition(
                    name="collections", required_skills=[{"skill": "collections", "min_level": 1}]
                ),
            ]
        )
        await s.flush()
        for user in users:
            s.add_all(UserSkill(user_id=user.id, skill_id=k.id, level=60) for k in skills)
        await s.commit()
        seeded = Seeded({u.username: u.id for u in users}, ivan.id, maria.id)
    await db.close()
    return seeded


def live_settings(pbx: LivePbx, url: str, tmp_path: Path) -> Settings:
    settings = load_settings(None, environ={})
    return replace(
        settings,
        database=replace(settings.database, url=url),
        center=replace(settings.center, default_region="US", timezone="America/New_York"),
        ami=replace(
            settings.ami,
            port=pbx.ami_port,
            username=CALLBOARD_USER,
            secret=CALLBOARD_SECRET,
            number_endpoint="Local/{number}@pstn-sim",
            reconnect_max_s=1.0,
        ),
        agi=replace(
            settings.agi,
            port=pbx.agi_port,
            flows_dir=str(DEMO_FLOWS),
            default_queue="collections",
        ),
        web=replace(settings.web, port=free_port()),
        routing=replace(settings.routing, wrap_up_s=1),
        recordings=replace(settings.recordings, directory=str(tmp_path / "recordings")),
    )


class Observer:
    """Drains the bus in the background, keeping (wall-clock time, event) for every event."""

    def __init__(self, node: Node) -> None:
        self.sub = node.bus.subscribe("live-test", maxsize=100_000)
        self.history: list[tuple[float, Event]] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            event = await self.sub.get()
            self.history.append((time.time(), event))
            self._changed.set()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def all(self, kind: type[E], test: Callable[[E], bool] = lambda e: True) -> list[E]:
        return [e for _, e in self.history if isinstance(e, kind) and test(e)]

    def when(self, event: Event) -> float:
        return next(t for t, e in self.history if e is event)

    async def until(
        self, kind: type[E], test: Callable[[E], bool] = lambda e: True, within_s: float = 45
    ) -> E:
        end = time.monotonic() + within_s
        checked = 0
        while True:
            while checked < len(self.history):
                _, event = self.history[checked]
                checked += 1
                if isinstance(event, kind) and test(event):
                    return event
            left = end - time.monotonic()
            if left <= 0:
                seen = sorted({type(e).__name__ for _, e in self.history})
                raise TimeoutError(f"no {kind.__name__} within {within_s} s; seen: {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


@dataclass
class LiveNode:
    node: Node
    seen: Observer
    seeded: Seeded

    async def login(self, username: str) -> str:
        agent = str(self.seeded.operators[username])
        await RoutingAgentControl(self.node.acd, self.node.db).login(agent)
        return agent

    async def interactions(self) -> list[Interaction]:
        async with self.node.db.session() as s:
            return list((await s.execute(select(Interaction))).scalars())

    async def wait_rows(
        self, model: Any, test: Callable[[list[Any]], bool], within_s: float = 20, **where: Any
    ) -> list[Any]:
        """Poll a table until its rows (filtered by `where`) pass `test`."""
        end = time.monotonic() + within_s
        while True:
            async with self.node.db.session() as s:
                query = select(model)
                for key, value in where.items():
                    query = query.where(getattr(model, key) == value)
                rows = list((await s.execute(query)).scalars())
            if test(rows):
                return rows
            if time.monotonic() > end:
                raise AssertionError(f"{model.__name__} rows never passed the check: {rows!r}")
            await asyncio.sleep(0.2)


@asynccontextmanager
async def live_node(
    pbx: LivePbx,
    tmp_path: Path,
    operators: dict[str, str] | None = None,
    configure: Callable[[Settings], Settings] = lambda s: s,
    extra: Callable[[Any, Seeded], Awaitable[None]] | None = None,
) -> AsyncIterator[LiveNode]:
    """A seeded database and the whole node, linked to the session's Asterisk. `extra` adds
    rows of the test's own (it gets an open session; it commits)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}"
    seeded = await seed(url, operators or {"olga": "Local/agent1@cb-agents"})
    if extra is not None:
        db = await Database.open(url)
        try:
            async with db.session() as session:
                await extra(session, seeded)
                await session.commit()
        finally:
            await db.close()
    settings = configure(live_settings(pbx, url, tmp_path))
    async with AsyncExitStack() as stack:
        node = await start_node(settings, stack)
        seen = Observer(node)
        stack.push_async_callback(seen.close)
        await wait_link_up(node)
        yield LiveNode(node, seen, seeded)


async def wait_link_up(node: Node, within_s: float = 20) -> None:
    """Until the bridge's AMI session is logged in and has resynced."""
    end = time.monotonic() + within_s
    while not (node.bridge.link.is_up and node.bridge.last_resync is not None):
        if time.monotonic() > end:
            raise AssertionError(f"Callboard's AMI link did not come up: {node.bridge.status()}")
        await asyncio.sleep(0.1)


class Desk:
    """A signed-in browser session on the node's web port: the form sign-in, the desk's
    websocket (what the operator's browser is pushed), the desk and supervisor actions."""

    def __init__(self, node: Node) -> None:
        import aiohttp

        self.base = node.web_url.rstrip("/")
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.ws: Any = None

    async def sign_in(self, username: str, password: str = "x") -> None:
        import re

        page = await (await self.http.get(f"{self.base}/login")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None, page
        signed = await self.http.post(
            f"{self.base}/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            allow_redirects=False,
        )
        assert signed.status == 302, await signed.text()
        desk = await (await self.http.get(f"{self.base}/")).text()
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', desk)
        assert meta is not None
        self.csrf = meta.group(1)

    async def open_socket(self, page: str = "desk") -> None:
        self.ws = await self.http.ws_connect(
            f"{self.base}/ws?page={page}", headers={"Origin": self.base}
        )

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.base}{path}", json=body or {}, headers={"X-CSRF-Token": self.csrf}
        )
        text = await response.text()
        assert response.status == 200, f"POST {path}: {response.status} {text}"
        return dict(await response.json()) if text else {}

    async def next_of(self, kind: str, within_s: float = 30, **match: Any) -> dict[str, Any]:
        import json

        async with asyncio.timeout(within_s):
            while True:
                message = json.loads((await self.ws.receive()).data)
                body = message.get("agent") or message.get("call") or message
                if message.get("type") == kind and all(body.get(k) == v for k, v in match.items()):
                    return dict(message)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()
