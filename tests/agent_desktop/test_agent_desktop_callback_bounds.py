"""Callback reminders and dial approvals of a node that runs for weeks: what was reminded is
forgotten once the callback is done, and an approval never used once it expired."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from agent_desktop.callbacks import CallbackReminders
from crm_core.models import Task, TaskKind, TaskStatus


class FakeHub:
    def __init__(self, online: list[str]) -> None:
        self.online = online
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def online_agents(self) -> list[str]:
        return list(self.online)

    def send_to_agent(self, agent_id: str, message: dict[str, Any]) -> None:
        self.sent.append((agent_id, message))


async def add_callbacks(env, owner: int, n: int) -> None:
    async with env.db.session() as session:
        session.add_all(
            Task(
                kind=TaskKind.CALLBACK,
                contact_id=env.contact_id,
                phone_e164="+447911123456",
                due_at=env.clock.now() + timedelta(minutes=1),
                owner_agent_id=owner,
                note=f"callback {i}",
                created_at=env.clock.now(),
            )
            for i in range(n)
        )
        await session.commit()


async def close_all(env) -> None:
    async with env.db.session() as session:
        await session.execute(update(Task).values(status=TaskStatus.DONE))
        await session.commit()


async def test_done_callbacks_are_forgotten_and_open_ones_reminded_once(env) -> None:
    owner = env.users["op1"]
    hub = FakeHub([str(owner)])
    reminders = CallbackReminders(env.db, hub, env.clock)
    for _ in range(5):  # five days of callbacks, each day's done before the next
        await add_callbacks(env, owner, 40)
        assert await reminders.check() == 40
        assert await reminders.check() == 0  # reminded once, not every round
        assert len(reminders._reminded) == 40
        await close_all(env)
        assert await reminders.check() == 0
        assert len(reminders._reminded) == 0
    assert len(hub.sent) == 200


async def test_an_offline_operators_reminders_are_kept_until_they_are_back(env) -> None:
    owner = env.users["op1"]
    hub = FakeHub([str(owner)])
    reminders = CallbackReminders(env.db, hub, env.clock)
    await add_callbacks(env, owner, 3)
    assert await reminders.check() == 3
    hub.online = [str(env.users["op2"])] if "op2" in env.users else []
    await reminders.check()
    assert len(reminders._reminded) == 3  # not forgotten while its operator is away
    hub.online = [str(owner)]
    assert await reminders.check() == 0  # back: still open, already reminded


async def test_approvals_never_used_are_dropped_once_expired(env) -> None:
    from agent_desktop.manual_dial import APPROVAL_TTL, ManualDialGuard
    from agent_desktop.principal import Principal
    from crm_core.config import load_settings
    from crm_core.models import Role

    settings = load_settings(None, environ={})
    guard = ManualDialGuard(env.db, FakeHub([]), env.clock, settings)  # type: ignore[arg-type]
    boss = Principal(1, "sup", "Supervisor", Role.SUPERVISOR, "en", "")
    for day in range(30):  # one approval an hour for a month, none of them used
        for hour in range(24):
            guard.approve("7", f"+4479111{day:03d}{hour:02d}", boss, "debtor asked")
            env.clock.advance(3600.0)
    assert len(guard._approvals) <= APPROVAL_TTL // timedelta(hours=1) + 1
