"""The whole product as `callboard serve` wires it, against pbx_sim over TCP: a debtor calls,
the IVR recognises the number, the ACD pops the card to the signed-in operator before the phone
rings, the operator talks, the call ends, and the interaction log tells the whole story."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select

from agent_desktop.acd_adapter import RoutingAgentControl
from ami_bridge.events import CallEnded
from callboard.demo import DEMO_FLOWS
from callboard.migrate import upgrade_async
from callboard.node import start_node
from crm_core.auth import hash_password
from crm_core.bus import Event, Subscription
from crm_core.config import load_settings
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
from pbx_sim import AgentPhone, Caller, PbxSim, SimConfig, kit_user
from recordings.tables import Recording
from routing.events import AgentOffered, AgentStateChanged, CallConnected
from tests.ports import free_port

E = TypeVar("E", bound=Event)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def seed(url: str) -> int:
    await upgrade_async(url)
    db = await Database.open(url)
    async with db.session() as s:
        contact = Contact(
            first_name="Ivan", last_name="Petrov", language="en", created_at=NOW, updated_at=NOW
        )
        phone = Phone(e164="+12125550142", raw="+12125550142")
        s.add_all([contact, phone])
        await s.flush()
        s.add(ContactPhone(contact_id=contact.id, phone_id=phone.id, is_primary=True))
        s.add(
            Debt(
                contact_id=contact.id,
                creditor="Acme Bank",
                reference="ACC-1",
                principal=Decimal("900"),
                balance=Decimal("812.40"),
                due_date=date(2026, 8, 1),
                created_at=NOW,
            )
        )
        skills = [Skill(name=n) for n in ("collections", "lang_en")]
        operator = User(
            username="olga",
            role=Role.OPERATOR,
            password_hash=hash_password("x"),
            endpoint="Local/agent1@cb-agents",
            created_at=NOW,
        )
        s.add_all(
            [
                *skills,
                operator,
                QueueDefinition(
                    name="collections", required_skills=[{"skill": "collections", "min_level": 1}]
                ),
            ]
        )
        await s.flush()
        s.add_all(UserSkill(user_id=operator.id, skill_id=k.id, level=60) for k in skills)
        await s.commit()
        operator_id = operator.id
    await db.close()
    return operator_id


class Observer:
    """Everything on the bus, kept: services run concurrently, so events may come in any order
    across packages, and a wait must also find what already happened."""

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.history: list[Event] = []

    async def until(self, kind: type[E], test: Callable[[E], bool] = lambda e: True) -> E:
        for event in self.history:
            if isinstance(event, kind) and test(event):
                return event
        async with asyncio.timeout(30):
            while True:
                event = await self.sub.get()
                self.history.append(event)
                if isinstance(event, kind) and test(event):
                    return event


async def test_a_debtor_call_end_to_end(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}"
    operator_id = await seed(url)
    agent = str(operator_id)
    agi_port = free_port()
    sim = PbxSim(
        SimConfig(
            users={"callboard": kit_user("s3cret")}, agi_url=f"agi://127.0.0.1:{agi_port}/inbound"
        )
    )
    sim.add_agent_phone("agent1", AgentPhone(ring_secs=0.5, talk_secs=2.0))
    await sim.start()
    settings = load_settings(None, environ={})
    settings = replace(
        settings,
        database=replace(settings.database, url=url),
        center=replace(settings.center, default_region="US", timezone="America/New_York"),
        ami=replace(settings.ami, port=sim.ami_port, username="callboard", secret="s3cret"),
        agi=replace(
            settings.agi, port=agi_port, flows_dir=str(DEMO_FLOWS), default_queue="collections"
        ),
        web=replace(settings.web, port=free_port()),
        routing=replace(settings.routing, wrap_up_s=1),
        recordings=replace(settings.recordings, directory=str(tmp_path / "recordings")),
    )
    async with AsyncExitStack() as stack:
        stack.push_async_callback(sim.stop)
        node = await start_node(settings, stack)
        seen = Observer(node.bus.subscribe("test", maxsize=100_000))
        await RoutingAgentControl(node.acd, node.db).login(agent)

        call = sim.place_inbound_call(Caller(number="+12125550142", patience=60))
        offered = await seen.until(AgentOffered)
        assert offered.agent_id == agent and offered.linkedid == call.linkedid
        assert offered.card is not None and offered.card["name"] == "Ivan Petrov"
        assert offered.card["debts"][0]["balance"] == "812.40"
        await seen.until(CallConnected, lambda e: e.linkedid == call.linkedid)
        ended = await seen.until(CallEnded, lambda e: e.linkedid == call.linkedid)
        assert ended.talk_s > 1
        await seen.until(
            AgentStateChanged, lambda e: e.agent_id == agent and str(e.state) == "wrap_up"
        )
        await seen.until(
            AgentStateChanged, lambda e: e.agent_id == agent and str(e.state) == "ready"
        )

        async with asyncio.timeout(30):
            while True:  # the interaction writer runs behind the bus
                async with node.db.session() as s:
                    row = (
                        await s.execute(
                            select(Interaction).where(Interaction.linkedid == call.linkedid)
                        )
                    ).scalar_one_or_none()
                if row is not None and row.ended_at is not None and row.agent_id is not None:
                    break
                await asyncio.sleep(0.1)
        assert row.direction == "inbound"
        assert row.contact_id is not None
        assert row.queue == "collections"
        assert row.agent_id == operator_id
        assert row.answered_at and row.connected_at and row.ended_at
        assert row.ivr_path[:2] == ["greeting", "known_caller:found"]
        assert row.hangup_cause is not None

        async with asyncio.timeout(30):
            while True:  # the recording was started on connect and checked after the hangup
                async with node.db.session() as s:
                    recording = (
                        await s.execute(
                            select(Recording).where(Recording.linkedid == call.linkedid)
                        )
                    ).scalar_one_or_none()
                if recording is not None and recording.sha256:
                    break
                await asyncio.sleep(0.2)
        assert recording.duration_s > 1
