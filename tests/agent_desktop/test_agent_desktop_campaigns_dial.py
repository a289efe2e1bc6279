"""Click-to-call from the desk goes through the dialer's compliance rules: refusals name the rule,
supervisors override or approve with a reason, everything is audited and every manual dial is in
the attempt ledger. Real app, real SQLite database, the Switch records its AMI actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from agent_desktop.manual_dial import MANUAL_CAMPAIGN
from crm_core.models import AuditEntry, Debt, DebtStatus
from dialer.attempts import Attempt, AttemptOutcome
from dialer.ledger import AttemptLedger
from dialer.tables import CampaignRow, DialAttemptRow, DoNotCallRow

NUMBER = "07911 123456"  # the seeded debtor's number, as an operator types it
E164 = "+447911123456"


async def switch_user(client: Any, sign_in: Any, username: str) -> str:
    client.session.cookie_jar.clear()
    return await sign_in(client, username)


async def dial(client: Any, csrf: str, **body: Any) -> Any:
    return await client.post(
        "/desk/call/dial", json={"number": NUMBER, **body}, headers={"X-CSRF-Token": csrf}
    )


async def audit(env: Any, action: str) -> list[AuditEntry]:
    async with env.db.session() as s:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await s.scalars(query)).all())


async def manual_attempts(env: Any) -> list[DialAttemptRow]:
    async with env.db.session() as s:
        query = (
            select(DialAttemptRow)
            .join(CampaignRow, CampaignRow.id == DialAttemptRow.campaign_id)
            .where(CampaignRow.name == MANUAL_CAMPAIGN)
        )
        return list((await s.scalars(query)).all())


async def past_attempts(env: Any, count: int, **outcome: Any) -> None:
    """`count` earlier dials of the debt, by a campaign, one every two hours before now."""
    now = env.clock.now()
    async with env.db.session() as s:
        s.add(CampaignRow(id=7, name="earlier", created_at=now, updated_at=now))
        await s.commit()
    ledger = AttemptLedger(env.db)
    for i in range(count):
        started = now - timedelta(hours=2 * (i + 1))
        aid = f"old-{i}"
        await ledger.started(
            Attempt(
                attempt_id=aid, campaign_id=7, debt_id=env.debt_id, phone=E164, started_at=started
            )
        )
        if outcome:
            await ledger.answered(aid, started)
            await ledger.classified(aid, AttemptOutcome.HUMAN, **outcome)
            await ledger.ended(aid, started + timedelta(minutes=1))


async def test_an_allowed_dial_is_placed_and_filed_in_the_ledger(env, client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf)
    assert response.status == 200, await response.text()
    assert [action for action, _ in env.port.sent] == ["Originate"]
    [attempt] = await manual_attempts(env)
    assert (attempt.debt_id, attempt.phone, attempt.started_at) == (
        env.debt_id,
        E164,
        env.clock.now(),
    )


async def test_the_attempt_cap_refuses_with_the_rule_and_reason(env, client, sign_in) -> None:
    await past_attempts(env, 7)
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf)
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "dial.denied"
    assert error["details"]["overridable"] is True
    [denial] = error["details"]["denials"]
    assert denial["rule"] == "attempt_cap" and "7 attempts" in denial["reason"]
    assert "attempt_cap" in error["message"]
    assert "allowed from 2026-11-29 20:00 UTC" in error["message"]  # oldest of the 7 + 7 days
    assert env.port.sent == [] and await manual_attempts(env) == []
    [entry] = await audit(env, "dial_denied")
    assert (entry.user_id, entry.object_id) == (env.users["op1"], E164)
    assert entry.detail["denials"][0]["rule"] == "attempt_cap"


async def test_calling_hours_follow_the_debtors_local_time(env, client, sign_in) -> None:
    env.clock.advance(timedelta(hours=11, minutes=30).total_seconds())  # 21:30 in London
    csrf = await sign_in(client, "op1")
    error = (await (await dial(client, csrf)).json())["error"]
    assert error["details"]["denials"][0]["rule"] == "calling_hours"
    assert "Europe/London" in error["details"]["denials"][0]["reason"]


async def test_disputes_conversations_and_abandoned_calls_refuse(env, client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    await past_attempts(env, 1, abandoned=True)
    error = (await (await dial(client, csrf)).json())["error"]
    assert error["details"]["denials"][0]["rule"] == "abandoned_redial"
    await AttemptLedger(env.db).conversation("old-0")
    error = (await (await dial(client, csrf)).json())["error"]
    assert error["details"]["denials"][0]["rule"] == "after_conversation"
    async with env.db.session() as s:
        await s.execute(
            update(Debt).where(Debt.id == env.debt_id).values(status=DebtStatus.DISPUTED)
        )
        await s.commit()
    error = (await (await dial(client, csrf)).json())["error"]
    assert error["details"]["denials"][0]["rule"] == "disputed"


async def test_a_supervisor_overrides_with_a_reason_on_record(env, client, sign_in) -> None:
    await past_attempts(env, 7)
    op_csrf = await sign_in(client, "op1")
    forbidden = await dial(client, op_csrf, override_reason="I know better")
    assert forbidden.status == 403
    assert (await forbidden.json())["error"]["code"] == "auth.forbidden"
    sup_csrf = await switch_user(client, sign_in, "sup")
    empty = await dial(client, sup_csrf, override_reason="  ")
    assert empty.status == 422
    response = await dial(client, sup_csrf, override_reason="debtor asked for a call back")
    assert response.status == 200, await response.text()
    [entry] = await audit(env, "dial_override")
    assert entry.user_id == env.users["sup"]
    assert entry.detail["override"] == {
        "reason": "debtor asked for a call back",
        "approver_id": None,
    }
    assert entry.detail["denials"][0]["rule"] == "attempt_cap"
    assert len(await manual_attempts(env)) == 1


async def test_a_supervisor_approves_one_dial_for_an_operator(env, client, sign_in) -> None:
    await past_attempts(env, 7)
    op_csrf = await sign_in(client, "op1")
    assert (await dial(client, op_csrf)).status == 409
    sup_csrf = await switch_user(client, sign_in, "sup")
    refused = await (await client.get("/api/dial-denials")).json()
    [pending] = refused["items"]
    assert (pending["agent_id"], pending["phone"]) == (str(env.users["op1"]), E164)
    assert pending["denials"][0]["rule"] == "attempt_cap"
    no_reason = await client.post(
        "/api/dial-approvals",
        json={"agent_id": pending["agent_id"], "number": pending["phone"]},
        headers={"X-CSRF-Token": sup_csrf},
    )
    assert no_reason.status == 422
    approved = await client.post(
        "/api/dial-approvals",
        json={"agent_id": pending["agent_id"], "number": pending["phone"], "reason": "court"},
        headers={"X-CSRF-Token": sup_csrf},
    )
    assert approved.status == 201
    assert (await (await client.get("/api/dial-denials")).json())["items"] == []
    op_csrf = await switch_user(client, sign_in, "op1")
    assert (await client.get("/api/dial-denials")).status == 403
    assert (await dial(client, op_csrf)).status == 200  # the approval is used up...
    assert (await dial(client, op_csrf)).status == 409  # ...by that one dial
    [grant] = await audit(env, "dial_approval")
    assert grant.user_id == env.users["sup"] and grant.detail["reason"] == "court"
    [used] = await audit(env, "dial_override")
    assert used.user_id == env.users["op1"]
    assert used.detail["override"] == {"reason": "court", "approver_id": env.users["sup"]}


async def test_the_global_do_not_call_list_is_never_overridden(env, client, sign_in) -> None:
    async with env.db.session() as s:
        s.add(DoNotCallRow(phone=E164, campaign_id=None, added_at=env.clock.now()))
        await s.commit()
    csrf = await sign_in(client, "sup")
    response = await dial(client, csrf, override_reason="please")
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "dial.not_overridable"
    assert error["details"]["denials"][0]["rule"] == "do_not_call"
    assert env.port.sent == []


async def test_numbers_without_debts_are_dialled_unchecked(env, client, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    response = await dial(client, csrf, number="2001")  # an internal extension
    assert response.status == 200
    assert await manual_attempts(env) == []


async def test_an_approval_expires_unused(env, client, sign_in) -> None:
    await past_attempts(env, 7)
    sup_csrf = await sign_in(client, "sup")
    approved = await client.post(
        "/api/dial-approvals",
        json={"agent_id": str(env.users["op1"]), "number": NUMBER, "reason": "court"},
        headers={"X-CSRF-Token": sup_csrf},
    )
    assert approved.status == 201
    env.clock.advance(16 * 60)
    op_csrf = await switch_user(client, sign_in, "op1")
    assert (await dial(client, op_csrf)).status == 409


async def test_a_user_without_a_phone_is_refused_before_the_ledger(env, client, sign_in) -> None:
    csrf = await sign_in(client, "admin")  # the seeded admin has no endpoint
    response = await dial(client, csrf)
    assert (await response.json())["error"]["code"] == "desk.no_endpoint"
    assert await manual_attempts(env) == []
