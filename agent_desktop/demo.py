"""Demo users for `callboard demo`: an operator, a supervisor and an admin with known passwords."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select

from crm_core import users as user_rules
from crm_core.auth import hash_password
from crm_core.clock import Clock, SystemClock
from crm_core.db import Database
from crm_core.models import Role, User


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: Role
    full_name: str
    endpoint: str
    language: str = "en"


DEMO_USERS = (
    DemoUser(
        "operator1", "operator1-demo", Role.OPERATOR, "Olga Operator", "Local/agent1@cb-agents"
    ),
    DemoUser(
        "operator2",
        "operator2-demo",
        Role.OPERATOR,
        "Oleg Operator",
        "Local/agent2@cb-agents",
        language="ru",
    ),
    DemoUser(
        "supervisor",
        "supervisor-demo",
        Role.SUPERVISOR,
        "Sam Supervisor",
        "Local/sup1@cb-supervisor",
    ),
    DemoUser("admin", "admin-demo", Role.ADMIN, "Ada Admin", ""),
)


async def seed_demo_users(
    db: Database, clock: Clock | None = None, users: tuple[DemoUser, ...] = DEMO_USERS
) -> list[DemoUser]:
    """Creates the demo users that do not exist yet; returns those created (to print them)."""
    clock = clock or SystemClock()
    loop = asyncio.get_running_loop()
    created = []
    async with db.session() as session:
        existing = set((await session.execute(select(User.username))).scalars())
        for demo in users:
            if demo.username in existing:
                continue
            password = user_rules.check_password(demo.password)  # the rules of every user
            digest = await loop.run_in_executor(None, hash_password, password)
            session.add(
                User(
                    username=user_rules.check_username(demo.username),
                    full_name=user_rules.check_full_name(demo.full_name),
                    role=demo.role,
                    password_hash=digest,
                    endpoint=user_rules.check_endpoint(demo.endpoint),
                    language=demo.language,
                    created_at=clock.now(),
                )
            )
            created.append(demo)
        await session.commit()
    return created


def describe(users: list[DemoUser]) -> str:
    return "\n".join(f"  {u.role.value:<10} {u.username:<12} password: {u.password}" for u in users)
