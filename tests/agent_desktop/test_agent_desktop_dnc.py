"""Do-not-call from the supervisor desk and the REST API (crm_core.dnc), dispositions that act
(crm_core.disposition_effects) and disposition codes as data (crm_core.disposition_codes):
roles, CSRF, audit, CSV import (validated first, neutralised report) and export, and the
dialer never dialling a listed number (manual, with an override; campaign selection)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm_core.dnc import neutralise
from crm_core.models import (
    AuditEntry,
    ContactPhone,
    Debt,
    DebtStatus,
    DoNotCallEntry,
    Task,
    TaskKind,
)
from crm_core.tasks import review_keywords
from dialer.attempts import AttemptHistory
from dialer.campaign import Lead, LeadPhone
from dialer.compliance import Compliance, CompliancePolicy, DoNotCall, Rule
from dialer.retry import RetryPolicy
from dialer.selection import select as select_leads
from dialer.selection import target_for
from tests.security.test_wrapup_once import correct, log_call, save

E164 = "+447911123456"


async def switch_user(client: Any, sign_in: Any, username: str) -> str:
    client.session.cookie_jar.clear()
    return await sign_in(client, username)


async def audit(env: Any, action: str) -> list[AuditEntry]:
    async with env.db.session() as s:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await s.scalars(query)).all())


async def listed(env: Any) -> list[DoNotCallEntry]:
    async with env.db.session() as s:
        return list((await s.scalars(select(DoNotCallEntry).order_by(DoNotCallEntry.id))).all())


async def test_add_and_remove_with_roles_reasons_and_audit(env, client, sign_in) -> None:
    op = await sign_in(client, "op1")
    refused = await client.post(
        "/api/dnc", json={"phone": E164, "reason": "asked"}, headers={"X-CSRF-Token": op}
    )
    assert refused.status == 403
    sup = await switch_user(client, sign_in, "sup")
    no_csrf = await client.post("/api/dnc", json={"phone": E164, "reason": "asked"})
    assert no_csrf.status == 403
    no_reason = await client.post("/api/dnc", json={"phone": E164}, headers={"X-CSRF-Token": sup})
    assert no_reason.status == 422
    added = await client.post(
        "/api/dnc",
        json={"phone": "07911 123456", "reason": "asked by letter", "source": "consumer"},
        headers={"X-CSRF-Token": sup},
    )
    assert added.status == 201, await added.text()
    body = await added.json()
    assert body["phone"] == E164 and body["scope"] == "global" and body["source"] == "consumer"
    again = await client.post(
        "/api/dnc", json={"phone": E164, "reason": "again"}, headers={"X-CSRF-Token": sup}
    )
    assert again.status == 200 and (await again.json())["created"] is False
    [entry] = await audit(env, "dnc_add")
    assert entry.user_id == env.users["sup"] and entry.detail["reason"] == "asked by letter"
    listing = await client.get("/api/dnc")
    assert (await listing.json())["total"] == 1

    removal = {"phone": E164, "scope": "global"}
    no_reason = await client.post("/api/dnc/remove", json=removal, headers={"X-CSRF-Token": sup})
    assert no_reason.status == 422
    gone = await client.post(
        "/api/dnc/remove",
        json={**removal, "reason": "consent given in writing"},
        headers={"X-CSRF-Token": sup},
    )
    assert gone.status == 200, await gone.text()
    [entry] = await audit(env, "dnc_remove")
    assert entry.detail["reason"] == "consent given in writing"
    assert entry.detail["before"]["reason"] == "asked by letter"
    assert await listed(env) == []


async def test_the_page_adds_and_removes_with_its_forms(env, client, sign_in) -> None:
    op = await sign_in(client, "op1")
    assert (await client.get("/supervisor/dnc")).status == 403
    form = {"csrf_token": op, "phone": E164, "reason": "x", "scope": "global"}
    assert (await client.post("/supervisor/dnc/add", data=form)).status == 403
    sup = await switch_user(client, sign_in, "sup")
    page = await client.get("/supervisor/dnc")
    assert page.status == 200
    forged = await client.post(
        "/supervisor/dnc/add", data={**form, "csrf_token": "nope"}, allow_redirects=False
    )
    assert forged.status == 403
    done = await client.post(
        "/supervisor/dnc/add", data={**form, "csrf_token": sup}, allow_redirects=False
    )
    assert done.status == 303
    assert [e.phone for e in await listed(env)] == [E164]
    assert E164 in await (await client.get("/supervisor/dnc")).text()
    removed = await client.post(
        "/supervisor/dnc/remove",
        data={"csrf_token": sup, "phone": E164, "scope": "global", "reason": "consent"},
        allow_redirects=False,
    )
    assert removed.status == 303 and await listed(env) == []


async def test_import_validates_first_and_reports_neutralised(env, client, sign_in) -> None:
    sup = await sign_in(client, "sup")
    data = (
        "phone,scope,reason\n"
        "+447911123456,global,asked\n"
        "=cmd|' /C calc'!A0,global,evil\n"
        "+447911123457,campaign:99,no such campaign\n"
    )
    headers = {"X-CSRF-Token": sup, "Content-Type": "text/csv"}
    refused = await client.post("/api/dnc/import", data=data, headers=headers)
    assert refused.status == 422
    result = await refused.json()
    assert result["written"] is False
    assert [(p["row"], p["column"]) for p in result["problems"]] == [(3, "phone"), (4, "scope")]
    assert await listed(env) == []
    report = await client.post("/api/dnc/import?report=csv", data=data, headers=headers)
    rows = list(csv.reader(io.StringIO(await report.text())))
    assert rows[1][2].startswith("'=cmd")  # a spreadsheet shows it, never runs it
    skipped = await client.post("/api/dnc/import?skip_bad=1", data=data, headers=headers)
    assert skipped.status == 200
    assert (await skipped.json())["added"] == 1
    assert [e.phone for e in await listed(env)] == [E164]
    assert len(await audit(env, "dnc_import")) == 1


async def test_export_is_neutralised_and_round_trips(env, client, sign_in) -> None:
    sup = await sign_in(client, "sup")
    await client.post(
        "/api/dnc",
        json={"phone": E164, "reason": '=HYPERLINK("http://x")'},
        headers={"X-CSRF-Token": sup},
    )
    await switch_user(client, sign_in, "op1")
    assert (await client.get("/api/dnc/export")).status == 403
    await switch_user(client, sign_in, "sup")
    exported = await client.get("/api/dnc/export")
    assert exported.status == 200 and exported.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await exported.text())))
    assert rows[0][:3] == ["phone", "scope", "reason"]
    assert rows[1][0] == "'+447911123456" and rows[1][2].startswith("'=HYPERLINK")
    assert len(await audit(env, "export")) == 1


async def test_a_number_added_from_the_desk_is_never_dialled_even_with_override(
    env, client, sign_in
) -> None:
    sup = await sign_in(client, "sup")
    await client.post(
        "/api/dnc", json={"phone": E164, "reason": "cease"}, headers={"X-CSRF-Token": sup}
    )
    response = await client.post(
        "/desk/call/dial",
        json={"number": E164, "override_reason": "the supervisor insists"},
        headers={"X-CSRF-Token": sup},
    )
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "dial.not_overridable"
    assert env.port.sent == []


def test_campaign_selection_skips_listed_numbers_and_stopped_debts() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    lead = Lead(
        debt_id=1,
        contact_id=1,
        creditor="c",
        balance=Decimal("10"),
        days_past_due=10,
        status="active",
        address_zone="Europe/London",
        phones=(LeadPhone(E164),),
    )
    policy = CompliancePolicy()
    for dnc in (
        DoNotCall(global_numbers=frozenset({E164})),
        DoNotCall(campaign_numbers=frozenset({E164})),
    ):
        picked = select_leads(
            [lead],
            count=5,
            now=now,
            campaign_id=1,
            compliance=Compliance(policy, dnc),
            retry=RetryPolicy(),
            history=AttemptHistory(),
        )
        assert picked.picks == []
    stopped = Lead(
        debt_id=2,
        contact_id=1,
        creditor="c",
        balance=Decimal("10"),
        days_past_due=10,
        status="bankrupt",
        address_zone="Europe/London",
        phones=(LeadPhone(E164),),
    )
    verdict = Compliance(policy).check(target_for(stopped, E164), AttemptHistory(), now)
    assert verdict.rule is Rule.DEBT_STOPPED and verdict.permanent


# -- dispositions that act ---------------------------------------------------------------------


async def wrap(client, csrf, code: str, key: str, **extra: Any) -> Any:
    return await save(client, csrf, "1795444100.7", {"key": key, "disposition": code, **extra})


async def test_wrong_number_unlinks_the_phone(env, client, sign_in) -> None:
    await log_call(env)
    csrf = await sign_in(client, "op1")
    response = await wrap(client, csrf, "wrong_number", "key-wrong-1")
    assert response.status == 200, await response.text()
    assert (await response.json())["effect"]["unlinked"] is True
    async with env.db.session() as s:
        assert (await s.scalars(select(ContactPhone))).all() == []
    [entry] = await audit(env, "disposition_effect")
    assert entry.detail["effect"] == "wrong_number"


async def test_dispute_then_a_correction_keeps_it_and_asks_a_supervisor(
    env, client, sign_in
) -> None:
    await log_call(env)
    csrf = await sign_in(client, "op1")
    response = await wrap(client, csrf, "dispute", "key-dispute-1")
    assert response.status == 200, await response.text()
    async with env.db.session() as s:
        assert (await s.get(Debt, env.debt_id)).status is DebtStatus.DISPUTED
    fixed = await correct(
        client,
        csrf,
        "1795444100.7",
        {"key": "key-correct-1", "disposition": "rpc", "reason": "slip"},
    )
    assert fixed.status == 200, await fixed.text()
    kept = (await fixed.json())["effects_kept"]
    assert kept["kept"]["effect"] == "dispute"
    async with env.db.session() as s:
        assert (await s.get(Debt, env.debt_id)).status is DebtStatus.DISPUTED  # not undone
        task = await s.get(Task, kept["review_task_id"])
        assert task.kind is TaskKind.REVIEW and "dispute" in task.note


async def test_bankrupt_and_attorney_stop_the_debt(env, client, sign_in) -> None:
    await log_call(env)
    csrf = await sign_in(client, "op1")
    response = await wrap(client, csrf, "attorney", "key-attorney-1")
    assert response.status == 200, await response.text()
    async with env.db.session() as s:
        assert (await s.get(Debt, env.debt_id)).status is DebtStatus.ATTORNEY
    dial = await client.post(
        "/desk/call/dial", json={"number": E164}, headers={"X-CSRF-Token": csrf}
    )
    assert dial.status == 409
    sup = await switch_user(client, sign_in, "sup")
    forced = await client.post(
        "/desk/call/dial",
        json={"number": E164, "override_reason": "I insist"},
        headers={"X-CSRF-Token": sup},
    )
    assert forced.status == 409
    assert (await forced.json())["error"]["details"]["denials"][0]["rule"] == "debt_stopped"


async def test_stop_calling_lists_the_contacts_numbers(env, client, sign_in) -> None:
    await log_call(env)
    csrf = await sign_in(client, "op1")
    response = await wrap(client, csrf, "cease", "key-cease-1")
    assert response.status == 200, await response.text()
    [entry] = await listed(env)
    assert entry.phone == E164 and entry.campaign_id is None and entry.source == "disposition"
    assert "cease" in entry.reason
    assert len(await audit(env, "dnc_add")) == 1


async def test_a_transcript_keyword_makes_a_review_task_not_a_change(env) -> None:
    await log_call(env)
    async with env.db.session() as s:
        task = await review_keywords(
            s, linkedid="1795444100.7", keywords=["bankrupt", "dispute"], now=env.clock.now()
        )
        await s.commit()
    assert task is not None and task.kind is TaskKind.REVIEW and "bankrupt" in task.note
    async with env.db.session() as s:
        assert (await s.get(Debt, env.debt_id)).status is DebtStatus.ACTIVE


# -- disposition codes as data ------------------------------------------------------------------


async def test_admin_configures_codes_and_the_desk_uses_them(env, client, sign_in) -> None:
    sup = await sign_in(client, "sup")
    body = {"code": "hardship", "label_en": "Hardship", "label_ru": "Трудности"}
    refused = await client.post("/api/admin/dispositions", json=body, headers={"X-CSRF-Token": sup})
    assert refused.status == 403
    admin = await switch_user(client, sign_in, "admin")
    created = await client.post(
        "/api/admin/dispositions",
        json={**body, "right_party": True},
        headers={"X-CSRF-Token": admin},
    )
    assert created.status == 201, await created.text()
    codes = [
        c["code"] for c in (await (await client.get("/api/admin/dispositions")).json())["items"]
    ]
    assert "rpc" in codes and "hardship" in codes  # the built-in set made explicit
    off = await client.patch(
        "/api/admin/dispositions/refused", json={"active": False}, headers={"X-CSRF-Token": admin}
    )
    assert off.status == 200 and (await off.json())["active"] is False
    assert len(await audit(env, "disposition_code")) == 2
    await log_call(env)
    op = await switch_user(client, sign_in, "op1")
    gone = await wrap(client, op, "refused", "key-refused-1")
    assert gone.status == 422
    ok = await wrap(client, op, "hardship", "key-hardship-1")
    assert ok.status == 200, await ok.text()


def test_neutralise() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+44") == "'+44"
    assert neutralise("plain") == "plain"
