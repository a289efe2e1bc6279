"""`callboard demo`: the whole floor on the simulated PBX, so a newcomer sees it work at once.

Calls arrive continuously from pbx_sim (known debtors by their numbers, unknown callers who key
in an account number), a few dozen simulated operators take them and write dispositions, and the
demo operator's own phone (agent1) is answered by the simulator, so the card pops in the
newcomer's browser as soon as they sign in and press Ready.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import time
from pathlib import Path

from sqlalchemy import func, select

from agent_desktop.acd_adapter import RoutingAgentControl
from agent_desktop.demo import DEMO_USERS, describe, seed_demo_users
from ami_bridge.switch import ApplicationTarget, OriginateRequest
from callboard.migrate import upgrade_async
from callboard.node import Node, start_node
from callboard.progress import ProgressBar
from crm_core.auth import hash_password
from crm_core.bus import Overflow
from crm_core.clock import SystemClock
from crm_core.config import Settings
from crm_core.db import Database
from crm_core.demo_data import load_demo_data
from crm_core.models import Contact, Debt, Phone, QueueDefinition, Role, Skill, User, UserSkill
from dialer.campaign import CampaignState, DebtFilter
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow
from pbx_sim import AgentPhone, Caller, PbxSim, SimConfig, kit_user
from routing.events import AgentStateChanged

log = logging.getLogger(__name__)

DEMO_FLOWS = Path(__file__).parent / "demo_flows"
SIM_OPERATORS = 24
CAMPAIGN_OPERATORS = 6  # the last simulated operators work the outbound campaign, not inbound
CAMPAIGN = "Early arrears (demo)"
SKILLS = ("collections", "lang_en", "lang_ru", "general")
SIM_HISTORY = 500  # ended calls, Originates and recordings pbx_sim keeps for inspection


async def prepare(settings: Settings, contacts: int = 2_000) -> list[str]:
    """Schema, debtors, skills, the queue and the users; returns the sign-in lines to print."""
    await upgrade_async(settings.database.url)
    db = await Database.open(settings.database.url)
    try:
        async with db.session() as session:
            have = await session.scalar(select(func.count()).select_from(Contact))
        if not have:
            await load_demo_data(db, contacts, seed=42, progress=ProgressBar("demo debtors"))
        await _seed_floor(db)
        created = await seed_demo_users(db)
        await _give_skills(db, [u.username for u in DEMO_USERS if u.role is Role.OPERATOR])
    finally:
        await db.close()
    users = created or [u for u in DEMO_USERS]
    return describe(users).splitlines()


async def _seed_floor(db: Database) -> None:
    async with db.session() as session:
        known = set((await session.execute(select(Skill.name))).scalars())
        session.add_all(Skill(name=name) for name in SKILLS if name not in known)
        if not await session.scalar(select(func.count()).select_from(QueueDefinition)):
            session.add(
                QueueDefinition(
                    name="collections",
                    required_skills=[{"skill": "collections", "min_level": 1}],
                    priority=0,
                    sl_target_pct=80,
                    sl_threshold_s=20,
                    max_wait_s=600,
                    overflow=[
                        {"after_s": 30, "min_level": 1},
                        {"after_s": 90, "add_skill": "general"},
                    ],
                    callback_offer_after_s=120,
                )
            )
        await session.commit()
        existing = set((await session.execute(select(User.username))).scalars())
        digest = await asyncio.to_thread(hash_password, "sim-operator-not-for-sign-in")
        now = SystemClock().now()
        for n in range(1, SIM_OPERATORS + 1):
            name = f"sim{n:02d}"
            if name not in existing:
                session.add(
                    User(
                        username=name,
                        full_name=f"Simulated Operator {n}",
                        role=Role.OPERATOR,
                        password_hash=digest,
                        created_at=now,
                        endpoint=f"Local/agent{n + 10}@cb-agents",
                        language="ru" if n % 3 == 0 else "en",
                    )
                )
        await session.commit()
    await _give_skills(db, [f"sim{n:02d}" for n in range(1, SIM_OPERATORS + 1)])
    await _seed_campaign(db)


async def _seed_campaign(db: Database) -> None:
    async with db.session() as session:
        if await session.scalar(select(CampaignRow.id).where(CampaignRow.name == CAMPAIGN)):
            return
        names = [
            f"sim{n:02d}" for n in range(SIM_OPERATORS - CAMPAIGN_OPERATORS + 1, SIM_OPERATORS + 1)
        ]
        ids = (await session.execute(select(User.id).where(User.username.in_(names)))).scalars()
        settings = CampaignSettings(
            name=CAMPAIGN,
            schedule=Schedule(
                zone="UTC", days=frozenset(range(7)), start=time(0, 0), end=time(23, 59, 59)
            ),
            operators=frozenset(str(i) for i in ids),
            filter=DebtFilter(min_days_past_due=30, statuses=frozenset({"active"})),
        )
        now = SystemClock().now()
        session.add(
            CampaignRow(
                name=CAMPAIGN,
                state="stopped",
                state_reason="not started yet",
                settings=CampaignRow.stored(settings),
                created_at=now,
                updated_at=now,
            )
        )
        await session.commit()


async def _give_skills(db: Database, usernames: list[str]) -> None:
    rng = random.Random(9)
    async with db.session() as session:
        skills = {s.name: s.id for s in (await session.execute(select(Skill))).scalars()}
        users = (await session.execute(select(User).where(User.username.in_(usernames)))).scalars()
        for user in users:
            have = set(
                (
                    await session.execute(
                        select(UserSkill.skill_id).where(UserSkill.user_id == user.id)
                    )
                ).scalars()
            )
            senior = not user.username.startswith("sim")  # the people trying the demo
            wanted = {
                "collections": 100 if senior else rng.randint(30, 95),
                "lang_en": 100,
                "general": 50,
            }
            if user.language == "ru" or user.username == "operator2":
                wanted["lang_ru"] = 100
            for name, level in wanted.items():
                if skills.get(name) and skills[name] not in have:
                    session.add(UserSkill(user_id=user.id, skill_id=skills[name], level=level))
        await session.commit()


async def run_demo(settings: Settings, *, call_rate: float = 0.25) -> None:
    settings = replace(settings, agi=replace(settings.agi, flows_dir=str(DEMO_FLOWS)))
    print("Preparing the demo database ...", flush=True)
    sign_ins = await prepare(settings)
    async with AsyncExitStack() as stack:
        sim = PbxSim(
            SimConfig(
                host=settings.ami.host,
                ami_port=settings.ami.port,
                users={settings.ami.username: kit_user(settings.ami.secret)},
                agi_url=f"agi://{settings.agi.host}:{settings.agi.port}/inbound",
                queues=(),
                # the demo runs for days in one process: the sim remembers only its newest calls
                history=SIM_HISTORY,
            )
        )
        for n in range(1, SIM_OPERATORS + 11):
            # agent1/agent2: the people trying the demo; their phones ring a little longer
            sim.add_agent_phone(
                f"agent{n}",
                AgentPhone(
                    ring_secs=(2, 4) if n <= 2 else (1, 3),
                    talk_secs=(40, 90) if n <= 2 else (30, 120),
                    no_answer=0.0 if n <= 2 else 0.03,
                ),
            )
        await sim.start()
        stack.push_async_callback(sim.stop)
        node = await start_node(settings, stack)
        floor = SimulatedFloor(node, sim, call_rate)
        task = asyncio.create_task(floor.run(), name="demo-floor")
        task.add_done_callback(_report_floor_failure)
        stack.push_async_callback(_cancel, task)
        print(f"\nCallboard demo is running at {node.web_url}\n")
        print("Sign in as:")
        for line in sign_ins:
            print(line)
        print(
            "\nThe operators' phones are answered by the simulated PBX. Sign in as operator1 and "
            "press Ready (Alt+R):\na call with the debtor's card arrives within a minute. The "
            "supervisor sees the floor and the campaign live. Ctrl-C stops.\n",
            flush=True,
        )
        await asyncio.Event().wait()


def _report_floor_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the simulated floor stopped", exc_info=task.exception())


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


class SimulatedFloor:
    """Simulated operators at work, and a steady stream of callers."""

    def __init__(self, node: Node, sim: PbxSim, call_rate: float) -> None:
        self.node = node
        self.sim = sim
        self.call_rate = call_rate
        self.rng = random.Random(1)
        self.control = RoutingAgentControl(node.acd, node.db)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._operators(group))
            group.create_task(self._callers())

    async def _operators(self, group: asyncio.TaskGroup) -> None:
        async with self.node.db.session() as session:
            sims = {
                str(u.id)
                for u in (
                    await session.execute(select(User).where(User.username.like("sim%")))
                ).scalars()
            }
        events = self.node.bus.subscribe(
            "demo-floor", AgentStateChanged, maxsize=1000, overflow=Overflow.DROP_OLDEST
        )
        self.campaign_agents = sorted(sims, key=int)[-CAMPAIGN_OPERATORS:]
        for agent_id in sorted(sims, key=int)[:-CAMPAIGN_OPERATORS]:
            await self.control.login(agent_id)  # logging in makes an agent ready
        await self._nail_up_campaign_operators()
        async for event in events:
            if not isinstance(event, AgentStateChanged):
                continue
            if event.agent_id in sims and str(event.state) == "wrap_up":
                group.create_task(self._finish_wrap_up(event.agent_id, self.rng.uniform(3, 8)))

    async def _nail_up_campaign_operators(self) -> None:
        """Each campaign operator's phone joins their own conference and stays there; answered
        debtors are moved in (no ringing), as the dialer's predictive mode needs."""
        dialer = next(
            (d for d in self.node.dialers.values() if d.campaign.settings.name == CAMPAIGN), None
        )
        if dialer is None:
            return
        async with self.node.db.session() as session:
            users = {
                str(u.id): u
                for u in (
                    await session.execute(
                        select(User).where(User.id.in_([int(a) for a in self.campaign_agents]))
                    )
                ).scalars()
            }
        for agent_id in self.campaign_agents:
            phone = users[agent_id].endpoint.split("/")[1].split("@")[0]  # agentN
            line = await self.node.bridge.switch.originate(
                OriginateRequest(
                    endpoint=f"Local/{phone}@cb-agent-phone",
                    target=ApplicationTarget("ConfBridge", f"{phone},cc_bridge,cc_agent"),
                    variables={"AGENT_TALK_SECS": "86400"},
                    ring_timeout=10.0,
                )
            )
            if line.answered:
                dialer.join_operator(agent_id, phone, line=line.uniqueid)
        # a paused campaign (by a supervisor, or by the dialer's breaker when the PBX could
        # not place calls) stays paused: resuming it is a supervisor's decision
        if dialer.campaign.state in (CampaignState.STOPPED, CampaignState.FINISHED):
            await dialer.move(CampaignState.RUNNING, "started by the demo")

    async def _finish_wrap_up(self, agent_id: str, after_s: float) -> None:
        await asyncio.sleep(after_s)
        try:
            await self.control.ready(agent_id)
        except Exception:
            log.debug("simulated operator %s could not become ready", agent_id, exc_info=True)

    async def _callers(self) -> None:
        async with self.node.db.session() as session:
            numbers = list((await session.execute(select(Phone.e164).limit(400))).scalars())
            accounts = list((await session.execute(select(Debt.reference).limit(400))).scalars())
        while True:
            await asyncio.sleep(self.rng.expovariate(self.call_rate))
            if self.rng.random() < 0.7 and numbers:
                caller = Caller(
                    number=self.rng.choice(numbers), name="", patience=self.rng.uniform(40, 240)
                )
            else:  # an unknown number: chooses a language and keys in an account number
                account = (
                    self.rng.choice(accounts)
                    if accounts and self.rng.random() < 0.7
                    else f"{self.rng.randrange(10**7, 10**8)}"
                )  # else: a wrong number
                caller = Caller(
                    number=f"+1212555{self.rng.randrange(10000):04d}",
                    digits=("", self.rng.choice("12"), f"{account}#"),
                    patience=self.rng.uniform(40, 240),
                )
            self.sim.place_inbound_call(caller)
