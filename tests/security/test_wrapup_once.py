"""A call takes one disposition per operator: a wrap-up saved with a fresh key is refused (409),
not written again (no second promise); two saves at once cannot both pass (the database's
unique leg, on SQLite and PostgreSQL); a change is an explicit correction, which replaces the
promise (the old one cancelled, not deleted) and is audited with before and after — by the
operator within the window, by a supervisor at any time; an old call is not re-dispositioned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agent_desktop.app import create_app
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import (
    CallDisposition,
    Debt,
    DebtStatus,
    Interaction,
    PromiseStatus,
    PromiseToPay,
)
from tests.agent_desktop.conftest import BookAcd, Env, RecordingPort, deps_for, seed
from tests.agent_desktop.test_agent_desktop_desk import LINKEDID, connect_call, end_call, offer_call
from tests.security.support import audit_rows

CALL = "1795444100.7"


def ptp(env: Env, key: str, amount: str, due_on: str = "2026-12-01") -> dict[str, Any]:
    return {
        "key": key,
        "disposition": "ptp",
        "notes": f"promised {amount}",
        "promise": {"debt_id": env.debt_id, "amount": amount, "due_on": due_on},
    }


async def save(client: TestClient, csrf: str, linkedid: str, body: dict[str, Any]) -> Any:
    return await client.post(
        "/desk/wrapup", json={**body, "linkedid": linkedid}, headers={"X-CSRF-Token": csrf}
    )


async def correct(client: TestClient, csrf: str, linkedid: str, body: dict[str, Any]) -> Any:
    return await client.put(
        f"/api/calls/{linkedid}/disposition", json=body, headers={"X-CSRF-Token": csrf}
    )


async def error_code(response: Any) -> str:
    return (await response.json())["error"]["code"]


async def log_call(env: Env, linkedid: str = CALL, agent: str = "op1") -> int:
    """A call of the debtor's that the operator took, as the AMI bridge logs it."""
    log = InteractionLog(env.db)
    interaction_id = await log.call_started(
        linkedid,
        started_at=env.clock.now(),
        caller_number="+447911123456",
        queue="collections",
        contact_id=env.contact_id,
    )
    await log.call_updated(linkedid, at=env.clock.now(), agent_id=env.users[agent])
    return interaction_id


async def call_promises(env: Env, linkedid: str) -> list[PromiseToPay]:
    async with env.db.session() as session:
        query = (
            select(PromiseToPay)
            .join(Interaction, PromiseToPay.interaction_id == Interaction.id)
            .where(Interaction.linkedid == linkedid)
            .order_by(PromiseToPay.id)
        )
        return list((await session.scalars(query)).all())


async def test_a_fresh_key_does_not_write_a_second_promise(client, env, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    await offer_call(env)
    connect_call(env)
    await end_call(env)
    first = await save(client, csrf, LINKEDID, ptp(env, "wrap-key-0001", "250.00"))
    assert first.status == 200, await first.text()
    for key in ("wrap-key-0002", "wrap-key-0003"):
        again = await save(client, csrf, LINKEDID, {**ptp(env, key, "250.00")})
        assert again.status == 409, await again.text()
        body = (await again.json())["error"]
        assert body["code"] == "disposition.already_saved"
        assert "correction" in body["message"]
        assert body["details"]["correct_with"] == f"PUT /api/calls/{LINKEDID}/disposition"
    rpc = await save(client, csrf, LINKEDID, {"key": "wrap-key-0004", "disposition": "rpc"})
    assert rpc.status == 409
    repeat = await save(client, csrf, LINKEDID, ptp(env, "wrap-key-0001", "250.00"))
    assert repeat.status == 200 and await repeat.json() == await first.json()
    # the REST API obeys the same rule
    api = await client.post(
        f"/api/calls/{LINKEDID}/disposition",
        json=ptp(env, "wrap-key-0005", "100.00"),
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status == 409 and await error_code(api) == "disposition.already_saved"
    promises = await call_promises(env, LINKEDID)
    assert [(p.amount, p.status) for p in promises] == [(Decimal("250.00"), PromiseStatus.OPEN)]
    async with env.db.session() as session:
        interaction = (
            await session.execute(select(Interaction).where(Interaction.linkedid == LINKEDID))
        ).scalar_one()
        assert interaction.disposition == "ptp"
    assert len(await audit_rows(env, "disposition")) == 1


@pytest.fixture
async def pg_env(pg_db: Database) -> AsyncIterator[Env]:
    clock = ManualClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))  # as `env`
    bus = InProcessBus()
    users, contact_id, debt_id, xss_id = await seed(pg_db, clock.now())
    yield Env(
        pg_db, bus, clock, BookAcd(clock, bus), RecordingPort(), users, contact_id, debt_id, xss_id
    )
    bus.close()


@pytest.fixture(params=["sqlite", "postgres"])
def any_env(request) -> Env:
    return request.getfixturevalue("env" if request.param == "sqlite" else "pg_env")


async def test_two_saves_at_once_one_wins(any_env: Env, sign_in) -> None:
    env = any_env
    await log_call(env)
    async with TestClient(TestServer(create_app(deps_for(env)))) as client:
        csrf = await sign_in(client, "op1")
        responses = await asyncio.gather(
            *(save(client, csrf, CALL, ptp(env, f"race-key-{i:04}", "300.00")) for i in range(4))
        )
        statuses = sorted(r.status for r in responses)
        assert statuses == [200, 409, 409, 409], [await r.text() for r in responses]
        for response in responses:
            if response.status == 409:
                assert await error_code(response) == "disposition.already_saved"
    assert len(await call_promises(env, CALL)) == 1
    async with env.db.session() as session:
        legs = list((await session.scalars(select(CallDisposition))).all())
    assert [(leg.user_id, leg.code) for leg in legs] == [(env.users["op1"], "ptp")]


async def test_the_database_holds_one_row_per_leg(any_env: Env) -> None:
    env = any_env
    interaction_id = await log_call(env)
    async with env.db.session() as session:
        for key in ("db-key-0001", "db-key-0002"):
            session.add(
                CallDisposition(
                    interaction_id=interaction_id,
                    user_id=env.users["op1"],
                    key=key,
                    code="rpc",
                    notes="",
                    saved_at=env.clock.now(),
                    result={},
                    revision=0,
                    revision_key="",
                    revision_result={},
                )
            )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_the_operator_corrects_within_the_window(client, env, sign_in) -> None:
    await log_call(env)
    csrf = await sign_in(client, "op1")
    saved = await save(client, csrf, CALL, ptp(env, "save-key-0001", "250.00"))
    assert saved.status == 200, await saved.text()
    env.clock.advance(5 * 60)
    fix = {**ptp(env, "fix-key-00001", "300.00", "2026-12-05"), "reason": "misheard the amount"}
    corrected = await correct(client, csrf, CALL, fix)
    assert corrected.status == 200, await corrected.text()
    result = await corrected.json()
    old, new = await call_promises(env, CALL)
    assert (old.amount, old.status) == (Decimal("250.00"), PromiseStatus.CANCELLED)
    assert (new.amount, new.status) == (Decimal("300.00"), PromiseStatus.OPEN)
    assert result["promise_id"] == new.id and result["cancelled"]["promise_id"] == old.id
    repeat = await correct(client, csrf, CALL, fix)  # a retried correction writes nothing more
    assert repeat.status == 200 and await repeat.json() == result
    assert len(await call_promises(env, CALL)) == 2
    [entry] = await audit_rows(env, "disposition_correction")
    assert entry.user_id == env.users["op1"]
    assert entry.detail["reason"] == "misheard the amount"
    before, after = entry.detail["before"], entry.detail["after"]
    assert before["promise"]["amount"] == "250.00" and before["promise"]["id"] == old.id
    assert after["promise"]["amount"] == "300.00" and after["promise"]["status"] == "open"
    # to a code without a promise: the promise is cancelled, the debt is no longer "promise"
    env.clock.advance(60)
    to_rpc = await correct(client, csrf, CALL, {"key": "fix-key-00002", "disposition": "rpc"})
    assert to_rpc.status == 200, await to_rpc.text()
    assert [p.status for p in await call_promises(env, CALL)] == [PromiseStatus.CANCELLED] * 2
    async with env.db.session() as session:
        assert (await session.get(Debt, env.debt_id)).status is DebtStatus.ACTIVE
        interaction = (
            await session.execute(select(Interaction).where(Interaction.linkedid == CALL))
        ).scalar_one()
        assert interaction.disposition == "rpc"
    state = await (await client.get("/desk/state")).json()
    assert state["today"]["promises"] == 0  # cancelled promises are not the operator's figures


async def test_after_the_window_only_a_supervisor_corrects(client, env, sign_in) -> None:
    await log_call(env)
    csrf = await sign_in(client, "op1")
    saved = await save(client, csrf, CALL, ptp(env, "save-key-0002", "250.00"))
    assert saved.status == 200, await saved.text()
    env.clock.advance(11 * 60)
    late = await correct(client, csrf, CALL, ptp(env, "fix-key-00003", "10.00"))
    assert late.status == 403
    error = (await late.json())["error"]
    assert error["code"] == "disposition.correction_refused" and "supervisor" in error["message"]
    async with TestClient(client.server) as other, TestClient(client.server) as supervisor:
        op2 = await sign_in(other, "op2")
        theirs = await correct(other, op2, CALL, ptp(env, "fix-key-00004", "10.00"))
        assert theirs.status == 403
        sup = await sign_in(supervisor, "sup")
        fix = {**ptp(env, "fix-key-00005", "120.00"), "reason": "debtor called to lower it"}
        fixed = await correct(supervisor, sup, CALL, fix)
        assert fixed.status == 200, await fixed.text()
    old, new = await call_promises(env, CALL)
    assert (old.status, new.status, new.amount) == (
        PromiseStatus.CANCELLED,
        PromiseStatus.OPEN,
        Decimal("120.00"),
    )
    [entry] = await audit_rows(env, "disposition_correction")
    assert entry.user_id == env.users["sup"] and entry.detail["leg_user_id"] == env.users["op1"]


async def test_a_call_from_last_week_is_not_redispositioned(client, env, sign_in) -> None:
    await log_call(env)
    csrf = await sign_in(client, "op1")
    saved = await save(client, csrf, CALL, {"key": "save-key-0003", "disposition": "rpc"})
    assert saved.status == 200, await saved.text()
    # and one saved before calls had disposition rows: only the call's own columns say so
    await log_call(env, "1795444200.9")
    await InteractionLog(env.db).set_disposition(
        (await InteractionLog(env.db).get("1795444200.9")).id,
        disposition="refused",
        notes="",
        agent_id=env.users["op1"],
    )
    env.clock.advance(timedelta(days=7).total_seconds())
    csrf = await sign_in(client, "op1")  # a new shift, a new session
    for linkedid in (CALL, "1795444200.9"):
        again = await save(client, csrf, linkedid, ptp(env, "late-key-0001", "900.00"))
        assert again.status == 409, await again.text()
        fixed = await correct(client, csrf, linkedid, ptp(env, "late-key-0002", "900.00"))
        assert fixed.status == 403 and await error_code(fixed) == "disposition.correction_refused"
    assert await call_promises(env, CALL) == []
    assert await call_promises(env, "1795444200.9") == []
