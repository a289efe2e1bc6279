"""Payments and payment plans over HTTP: the desk's and the API's payment posts, the card's plan,
the supervisor's lists, and a plan made on a call's wrap-up followed through an imported payment
(first instalment kept) and a missed instalment (broken, with a task) in the node's daily run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from crm_core.arrangements import CollectionRules
from crm_core.config import Settings
from crm_core.daily import evaluation_job
from crm_core.models import (
    Arrangement,
    AuditEntry,
    Debt,
    DebtStatus,
    Instalment,
    InstalmentStatus,
    Payment,
    Task,
    TaskKind,
)
from crm_core.payment_import import import_payments
from tests.agent_desktop.test_agent_desktop_desk import (
    LINKEDID,
    connect_call,
    end_call,
    offer_call,
    wrap_up,
)


async def _grant(client, csrf: str) -> None:
    """The operator searches for the debtor and opens the card to take a payment: its debts
    may be posted on."""
    found = await client.get("/api/contacts", params={"q": "NW-778812"})
    assert found.ok
    (hit,) = (await found.json())["items"]
    opened = await client.get(
        f"/api/contacts/{hit['contact_id']}/card", params={"purpose": "payment"}
    )
    assert opened.status == 200


async def test_an_operator_posts_a_payment_through_the_api(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/debts/{env.debt_id}/payments"
    body = {"amount": "250.00", "paid_on": "2026-11-22", "method": "card", "reference": "TX-77"}
    refused = await client.post(url, json=body, headers=headers)
    assert refused.status == 403  # not offered, not searched
    await _grant(client, csrf)
    first = await client.post(url, json=body, headers=headers)
    assert first.status == 201, await first.text()
    posted = await first.json()
    assert (posted["balance"], posted["debt_status"], posted["repeated"]) == (
        "1250.00",
        "active",
        False,
    )
    again = await client.post(url, json=body, headers=headers)
    assert again.status == 200 and (await again.json())["payment_id"] == posted["payment_id"]
    clash = await client.post(url, json={**body, "amount": "1.00"}, headers=headers)
    assert clash.status == 409
    assert (await clash.json())["error"]["code"] == "payment.duplicate_reference"
    over = await client.post(
        url, json={"amount": "1250.01", "paid_on": "2026-11-22"}, headers=headers
    )
    assert over.status == 422
    error = (await over.json())["error"]
    assert error["code"] == "payment.overpayment" and "1250.00" in error["message"]
    for amount in ("1e400", "99999999999999999", "NaN", "-1", "abc", 12.5):
        bad = await client.post(
            url, json={"amount": amount, "paid_on": "2026-11-22"}, headers=headers
        )
        assert bad.status == 422, amount
        assert (await bad.json())["error"]["details"]["field"] == "amount"
    future = await client.post(url, json={"amount": "1", "paid_on": "2026-11-24"}, headers=headers)
    assert (await future.json())["error"]["details"]["field"] == "paid_on"
    assert (
        await client.post("/api/debts/999999/payments", json=body, headers=headers)
    ).status == 404
    listing = await (await client.get(url)).json()
    assert [p["reference"] for p in listing["payments"]][:1] == ["TX-77"]
    assert listing["balance"] == "1250.00"
    async with env.db.session() as session:
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "payment"))
        ).scalar_one()
        assert entry.user_id == env.users["op1"] and entry.detail["source"] == "api"


async def test_the_desk_page_has_the_payment_form_and_the_plan_choice(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    page = await (await client.get("/")).text()
    for marker in ('id="payment-form"', 'id="ptp-plan"', 'value="bank_transfer"', 'id="plans"'):
        assert marker in page
    await _grant(client, csrf)
    posted = await client.post(
        f"/api/debts/{env.debt_id}/payments",
        json={"amount": "100", "paid_on": "2026-11-23", "source": "desk"},
        headers={"X-CSRF-Token": csrf},
    )
    assert posted.status == 201
    async with env.db.session() as session:
        payment = (
            await session.execute(select(Payment).where(Payment.source == "desk"))
        ).scalar_one()
        assert (payment.amount, payment.method) == (Decimal("100.00"), "other")


async def test_the_supervisor_lists_are_for_supervisors(client, env, sign_in):
    await sign_in(client, "op1")
    assert (await client.get("/api/collections/due")).status == 403
    client.session.cookie_jar.clear()
    await sign_in(client, "sup")
    data = await (await client.get("/api/collections/due")).json()
    assert data == {"today": "2026-11-23", "due_today": [], "broken_yesterday": []}
    assert 'id="collections-due"' in await (await client.get("/supervisor")).text()


async def test_a_plan_made_on_a_wrap_up_is_kept_then_broken(client, env, sign_in, tmp_path):
    csrf = await sign_in(client, "op1")
    await offer_call(env)
    connect_call(env)
    await end_call(env)
    plan = {
        "debt_id": env.debt_id,
        "instalments": [
            {"amount": "500.00", "due_on": "2026-11-30"},
            {"amount": "500.00", "due_on": "2026-12-30"},
            {"amount": "500.00", "due_on": "2027-01-30"},
        ],
    }
    too_much = dict(
        plan, instalments=plan["instalments"] + [{"amount": "0.01", "due_on": "2027-02-01"}]
    )
    refused = await wrap_up(
        env, client, csrf, key="k-plan-001", linkedid=LINKEDID, disposition="ptp", promise=too_much
    )
    assert refused.status == 422
    assert (await refused.json())["error"]["details"]["field"] == "promise.instalments"
    backwards = dict(plan, instalments=list(reversed(plan["instalments"])))
    refused = await wrap_up(
        env, client, csrf, key="k-plan-002", linkedid=LINKEDID, disposition="ptp", promise=backwards
    )
    assert (await refused.json())["error"]["details"]["field"] == "promise.instalments[1].due_on"
    saved = await wrap_up(
        env, client, csrf, key="k-plan-003", linkedid=LINKEDID, disposition="ptp", promise=plan
    )
    assert saved.status == 200, await saved.text()
    result = await saved.json()
    assert result["promise_id"] is None and result["arrangement_id"]
    # one disposition per call: a second wrap-up (another key) is refused, the plan stays one
    second = await wrap_up(
        env, client, csrf, key="k-plan-004", linkedid=LINKEDID, disposition="ptp", promise=plan
    )
    assert second.status == 409
    card = await (await client.get(f"/api/contacts/{env.contact_id}/card")).json()
    assert [i["status"] for i in card["plans"][0]["instalments"]] == ["open", "open", "open"]

    # the bank's file arrives: the first instalment is paid on time
    env.clock.set(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    csv_file = tmp_path / "bank.csv"
    csv_file.write_text(
        "account,amount,paid_on,method,reference\nNW-778812,500.00,2026-11-29,bank_transfer,B-1\n",
        encoding="utf-8",
    )
    settings = Settings()
    imported = await import_payments(
        env.db,
        csv_file,
        now=env.clock.now(),
        today=date(2026, 11, 29),
        rules=CollectionRules.from_settings(settings),
    )
    assert imported.committed and imported.rows_imported == 1
    client.session.cookie_jar.clear()  # six days on: the session has ended
    await sign_in(client, "op1")
    card = await (await client.get(f"/api/contacts/{env.contact_id}/card")).json()
    assert [i["status"] for i in card["plans"][0]["instalments"]] == ["kept", "open", "open"]
    assert card["debts"][0]["balance"] == "1000.00"

    # nothing arrives for December: the node's daily run on 2 January breaks the second
    job = evaluation_job(env.db, env.clock, settings, poll_s=0.01)
    env.clock.set(datetime(2027, 1, 1, 12, 0, tzinfo=UTC))
    assert await job.run_due()  # the 1st: still within the grace days
    env.clock.set(datetime(2027, 1, 2, 6, 30, tzinfo=UTC))
    assert await job.run_due()
    assert not await job.run_due()  # once a day
    async with env.db.session() as session:
        items = list(await session.scalars(select(Instalment).order_by(Instalment.seq)))
        assert [i.status for i in items] == [
            InstalmentStatus.KEPT,
            InstalmentStatus.BROKEN,
            InstalmentStatus.OPEN,
        ]
        task = (
            await session.execute(select(Task).where(Task.kind == TaskKind.FOLLOW_UP))
        ).scalar_one()
        assert task.debt_id == env.debt_id and task.owner_queue == "collections"
        assert "instalment 2 of 3" in task.note
        plan_row = await session.get(Arrangement, result["arrangement_id"])
        assert plan_row.interaction_id is not None
        assert (await session.get(Debt, env.debt_id)).status is DebtStatus.PROMISE
    # the supervisor sees it as missed yesterday (its last day to pay was 1 January)
    client.session.cookie_jar.clear()
    await sign_in(client, "sup")
    lists = await (await client.get("/api/collections/due")).json()
    assert [(i["kind"], i["seq"], i["status"]) for i in lists["broken_yesterday"]] == [
        ("instalment", 2, "broken")
    ]


async def test_correcting_a_plan_wrap_up_cancels_the_plan(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    await offer_call(env)
    connect_call(env)
    await end_call(env)
    plan = {
        "debt_id": str(env.debt_id),  # the desk's form sends the select's text
        "instalments": [
            {"amount": "300", "due_on": "2026-12-01"},
            {"amount": "300", "due_on": "2027-01-01"},
        ],
    }
    saved = await wrap_up(
        env, client, csrf, key="k-plan-101", linkedid=LINKEDID, disposition="ptp", promise=plan
    )
    assert saved.status == 200, await saved.text()
    arrangement_id = (await saved.json())["arrangement_id"]
    single = {"debt_id": env.debt_id, "amount": "100.00", "due_on": "2026-12-05"}
    corrected = await client.put(
        f"/api/calls/{LINKEDID}/disposition",
        json={"key": "k-plan-102", "disposition": "ptp", "promise": single, "reason": "one sum"},
        headers={"X-CSRF-Token": csrf},
    )
    assert corrected.status == 200, await corrected.text()
    result = await corrected.json()
    assert result["cancelled"]["arrangement_id"] == arrangement_id and result["promise_id"]
    async with env.db.session() as session:
        row = await session.get(Arrangement, arrangement_id)
        assert str(row.status) == "cancelled"
        items = list(await session.scalars(select(Instalment)))
        assert {i.status for i in items} == {InstalmentStatus.CANCELLED}
        assert (await session.get(Debt, env.debt_id)).status is DebtStatus.PROMISE
