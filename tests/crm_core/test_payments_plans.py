"""Payments and payment plans (crm_core.payments, crm_core.arrangements, crm_core.daily): the
rules as pure functions, then posting and evaluating against real databases, injected time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm_core import payments
from crm_core.arrangements import (
    CollectionRules,
    InstalmentInput,
    PlanError,
    allocate,
    cancel_plan,
    create_plan,
    due_and_broken,
    evaluate,
    parse_amount,
    validate_plan,
)
from crm_core.clock import ManualClock
from crm_core.config import Settings
from crm_core.daily import DailyJob, due_day, evaluation_job
from crm_core.models import (
    Arrangement,
    ArrangementStatus,
    AuditEntry,
    Contact,
    Debt,
    DebtStatus,
    Instalment,
    InstalmentStatus,
    Payment,
    PromiseStatus,
    PromiseToPay,
    ScheduledRun,
    Task,
    TaskKind,
    User,
)
from tests.waiting import eventually

D = Decimal
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
RULES = CollectionRules(max_instalments=6, max_plan_days=365, grace_days=2, task_queue="general")


# -- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("120", "120.00"),
        ("120.5", "120.50"),
        ("12,50", "12.50"),
        ("1,234.56", "1234.56"),
        (" 1 000.00 ", "1000.00"),
        ("0.01", "0.01"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_amounts_people_type_are_read(text, amount):
    assert parse_amount(text) == D(amount)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "NaN",
        "Infinity",
        "-5",
        "0",
        "0.00",
        "1e400",
        "9" * 400,
        "1.234",
        "12,3,4",
        "1.2.3",
        "١٢٣",
        "=1+2",
        "9999999999999",
        None,
        True,
        1.5,
    ],
)
def test_bad_or_huge_amounts_are_refused_with_a_reason(text):
    with pytest.raises(ValueError) as refused:
        parse_amount(text)
    assert str(refused.value)


def _plan(*items: tuple[str, date]) -> list[InstalmentInput]:
    return [InstalmentInput(D(a), d) for a, d in items]


def test_a_plan_is_checked_against_the_balance_dates_and_the_maximum():
    ok = _plan(("100", TODAY), ("100", TODAY + timedelta(days=30)))
    validate_plan(ok, D("200.00"), TODAY, RULES)
    cases = {
        "instalments": _plan(("150", TODAY), ("100", TODAY + timedelta(days=1))),  # > balance
        "instalments[0].due_on": _plan(("10", TODAY - timedelta(days=1))),
        "instalments[1].due_on": _plan(
            ("10", TODAY + timedelta(days=5)), ("10", TODAY + timedelta(days=5))
        ),
        "instalments[2].due_on": _plan(
            ("10", TODAY), ("10", TODAY + timedelta(days=2)), ("10", TODAY + timedelta(days=1))
        ),
    }
    for field, plan in cases.items():
        with pytest.raises(PlanError) as refused:
            validate_plan(plan, D("200.00"), TODAY, RULES)
        assert refused.value.field == field
    too_many = _plan(*[("1", TODAY + timedelta(days=i)) for i in range(7)])
    with pytest.raises(PlanError, match="at most 6 instalments"):
        validate_plan(too_many, D("200.00"), TODAY, RULES)
    too_far = _plan(("1", TODAY + timedelta(days=366)))
    with pytest.raises(PlanError, match="365 days"):
        validate_plan(too_far, D("200.00"), TODAY, RULES)


def test_payments_fill_instalments_in_date_order_and_late_ones_stay_broken():
    plan = [
        (D("100"), date(2026, 12, 1)),
        (D("100"), date(2027, 1, 1)),
        (D("100"), date(2027, 2, 1)),
    ]
    start = date(2026, 11, 23)
    # one payment covering one and a half instalments, early
    states = allocate(
        plan, [(date(2026, 11, 30), D("150"))], starts_on=start, today=date(2026, 12, 5)
    )
    assert [s.status for s in states] == [
        InstalmentStatus.KEPT,
        InstalmentStatus.OPEN,
        InstalmentStatus.OPEN,
    ]
    assert [s.paid for s in states] == [D("100"), D("50"), D("0")]
    # the second is short past its grace days: broken; a later payment fills it but not in time
    states = allocate(
        plan,
        [(date(2026, 11, 30), D("150")), (date(2027, 1, 10), D("60"))],
        starts_on=start,
        today=date(2027, 1, 10),
    )
    assert [s.status for s in states] == [
        InstalmentStatus.KEPT,
        InstalmentStatus.BROKEN,
        InstalmentStatus.OPEN,
    ]
    assert states[2].paid == D("10")
    # the grace days: paid two days late is still kept; three is not
    assert (
        allocate(
            plan[:1], [(date(2026, 12, 3), D("100"))], starts_on=start, today=date(2026, 12, 9)
        )[0].status
        is InstalmentStatus.KEPT
    )
    assert (
        allocate(
            plan[:1], [(date(2026, 12, 4), D("100"))], starts_on=start, today=date(2026, 12, 9)
        )[0].status
        is InstalmentStatus.BROKEN
    )
    # payments before the plan was made do not count
    assert (
        allocate(
            plan[:1], [(date(2026, 11, 1), D("100"))], starts_on=start, today=date(2026, 12, 1)
        )[0].status
        is InstalmentStatus.OPEN
    )
    # the tolerance: a few cents short is kept
    short = [(date(2026, 12, 1), D("99.50"))]
    assert (
        allocate(plan[:1], short, starts_on=start, today=date(2026, 12, 9))[0].status
        is InstalmentStatus.BROKEN
    )
    assert (
        allocate(plan[:1], short, starts_on=start, today=date(2026, 12, 9), tolerance=D("1.00"))[
            0
        ].status
        is InstalmentStatus.KEPT
    )


def test_the_daily_run_is_due_from_its_hour_in_the_centers_zone():
    zone = ZoneInfo("Europe/Moscow")  # UTC+3
    assert due_day(datetime(2026, 11, 23, 2, 59, tzinfo=UTC), 6, zone) is None
    assert due_day(datetime(2026, 11, 23, 3, 0, tzinfo=UTC), 6, zone) == date(2026, 11, 23)
    assert due_day(datetime(2026, 11, 23, 22, 0, tzinfo=UTC), 6, zone) is None  # 01:00 there
    assert due_day(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), 6, zone) == date(2026, 11, 24)


# -- against the database ---------------------------------------------------------------------


async def _debtor(db, balance: str = "300.00", agent: bool = False) -> int:
    async with db.session() as s:
        user_id = None
        if agent:
            user = User(
                username="op", full_name="Op", role="operator", password_hash="x", created_at=NOW
            )
            s.add(user)
            await s.flush()
            user_id = user.id
        contact = Contact(first_name="Ivan", last_name="Petrov", created_at=NOW, updated_at=NOW)
        s.add(contact)
        await s.flush()
        debt = Debt(
            contact_id=contact.id,
            creditor="Acme",
            reference="R-1",
            principal=D(balance),
            balance=D(balance),
            currency="GBP",
            due_date=date(2026, 8, 1),
            created_at=NOW,
            assigned_agent_id=user_id,
        )
        s.add(debt)
        await s.commit()
        return debt.id


async def _post(db, debt_id: int, amount: str, paid_on: date, reference: str = "", now=NOW):
    return await payments.record(
        db,
        payments.PaymentInput(debt_id, D(amount), paid_on, "card", reference),
        now=now,
        today=now.date(),
        rules=RULES,
        user_id=None,
        source="api",
    )


async def test_a_payment_lowers_the_balance_is_audited_and_pays_the_debt_off(db):
    debt_id = await _debtor(db, "300.00")
    posted = await _post(db, debt_id, "100.00", date(2026, 11, 20), "TX-1")
    assert (posted.balance, posted.debt_status, posted.repeated) == (D("200.00"), "active", False)
    again = await _post(db, debt_id, "100.00", date(2026, 11, 20), "TX-1")  # an API retry
    assert again.repeated and again.payment_id == posted.payment_id and again.balance == D("200.00")
    with pytest.raises(payments.PaymentRefused) as clash:
        await _post(db, debt_id, "50.00", date(2026, 11, 20), "TX-1")
    assert clash.value.code == "payment.duplicate_reference"
    with pytest.raises(payments.PaymentRefused) as over:
        await _post(db, debt_id, "200.01", date(2026, 11, 21))
    assert over.value.code == "payment.overpayment" and "200.00" in over.value.message
    last = await _post(db, debt_id, "200.00", date(2026, 11, 22))
    assert (last.balance, last.debt_status) == (D("0.00"), "paid")
    async with db.session() as s:
        assert await s.scalar(select(func.count(Payment.id))) == 2
        entries = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "payment")))
        assert [(e.detail["balance_before"], e.detail["balance_after"]) for e in entries] == [
            ("300.00", "200.00"),
            ("200.00", "0.00"),
        ]


def test_parse_names_the_field_at_fault():
    for body, field in (
        ({"amount": "x", "paid_on": "2026-11-01"}, "amount"),
        ({"amount": "10", "paid_on": "2026-12-01"}, "paid_on"),
        ({"amount": "10", "paid_on": "2026-11-01", "method": "gold"}, "method"),
        ({"amount": "10", "paid_on": "2026-11-01", "reference": "a\x00b"}, "reference"),
        ({"amount": "10", "paid_on": "2026-11-01", "reference": "r" * 65}, "reference"),
    ):
        with pytest.raises(payments.PaymentRefused) as refused:
            payments.parse(body, 1, TODAY)
        assert refused.value.field == field


async def _make_plan(db, debt_id: int, *items: tuple[str, date], now=NOW) -> int:
    async with db.session() as s:
        debt = await s.get(Debt, debt_id)
        plan = await create_plan(
            s,
            debt,
            _plan(*items),
            now=now,
            today=now.date(),
            rules=RULES,
            user_id=None,
            queue="collections",
        )
        await s.commit()
        return plan.id


async def test_instalments_are_kept_by_payments_and_broken_ones_make_a_task(db):
    debt_id = await _debtor(db, "300.00")
    plan_id = await _make_plan(
        db,
        debt_id,
        ("100", date(2026, 12, 1)),
        ("100", date(2027, 1, 1)),
        ("100", date(2027, 2, 1)),
    )
    async with db.session() as s:
        assert (await s.get(Debt, debt_id)).status is DebtStatus.PROMISE
    # the payment posts and evaluates its debt at once: the first instalment is kept
    await _post(
        db,
        debt_id,
        "100.00",
        date(2026, 11, 30),
        "TX-1",
        now=datetime(2026, 11, 30, 12, tzinfo=UTC),
    )
    async with db.session() as s:
        items = list(await s.scalars(select(Instalment).order_by(Instalment.seq)))
        assert [i.status for i in items] == [
            InstalmentStatus.KEPT,
            InstalmentStatus.OPEN,
            InstalmentStatus.OPEN,
        ]
    # nothing paid for January: broken on the 4th (grace two days), with a task for the queue
    async with db.session() as s:
        result = await evaluate(
            s, today=date(2027, 1, 3), now=datetime(2027, 1, 3, 6, tzinfo=UTC), rules=RULES
        )
        await s.commit()
    assert result.instalments["broken"] == 0
    async with db.session() as s:
        result = await evaluate(
            s, today=date(2027, 1, 4), now=datetime(2027, 1, 4, 6, tzinfo=UTC), rules=RULES
        )
        await s.commit()
    assert result.instalments == {"kept": 0, "broken": 1, "open": 1} and len(result.tasks) == 1
    async with db.session() as s:
        task = await s.get(Task, result.tasks[0])
        assert (task.kind, task.debt_id, task.owner_queue, task.owner_agent_id) == (
            TaskKind.FOLLOW_UP,
            debt_id,
            "collections",
            None,
        )
        assert "instalment 2 of 3" in task.note
        # evaluating again settles nothing twice
        again = await evaluate(
            s, today=date(2027, 1, 5), now=datetime(2027, 1, 5, 6, tzinfo=UTC), rules=RULES
        )
        await s.commit()
        assert again.tasks == [] and again.instalments["broken"] == 0
        assert (await s.get(Arrangement, plan_id)).status is ArrangementStatus.ACTIVE
        lists = await due_and_broken(s, date(2027, 1, 4), RULES)  # its last day was the 3rd
        assert [(i["kind"], i["seq"]) for i in lists["broken_yesterday"]] == [("instalment", 2)]
        assert (await due_and_broken(s, date(2027, 2, 1), RULES))["due_today"][0]["seq"] == 3


async def test_a_broken_promise_makes_a_task_for_the_debts_operator(db):
    debt_id = await _debtor(db, "300.00", agent=True)
    async with db.session() as s:
        s.add(
            PromiseToPay(debt_id=debt_id, amount=D("50"), due_on=date(2026, 11, 25), created_at=NOW)
        )
        await s.commit()
    async with db.session() as s:
        result = await evaluate(
            s, today=date(2026, 11, 28), now=NOW + timedelta(days=5), rules=RULES
        )
        await s.commit()
        assert result.promises["broken"] == 1
        task = await s.get(Task, result.tasks[0])
        debt = await s.get(Debt, debt_id)
        assert (task.owner_agent_id, task.owner_queue) == (debt.assigned_agent_id, "")
        promise = await s.scalar(select(PromiseToPay))
        assert promise.status is PromiseStatus.BROKEN


async def test_a_cancelled_plan_frees_the_debt(db):
    debt_id = await _debtor(db, "300.00")
    plan_id = await _make_plan(db, debt_id, ("100", date(2026, 12, 1)))
    async with db.session() as s:
        assert await cancel_plan(s, plan_id, NOW)
        await s.commit()
        assert (await s.get(Debt, debt_id)).status is DebtStatus.ACTIVE
        assert (await s.scalar(select(Instalment))).status is InstalmentStatus.CANCELLED
        assert not await cancel_plan(s, plan_id, NOW)


async def test_the_daily_job_runs_once_a_day_even_across_restarts(sqlite_db):
    db = sqlite_db
    debt_id = await _debtor(db, "300.00")
    await _make_plan(db, debt_id, ("100", date(2026, 11, 23)))
    settings = Settings()  # Europe/London, 06:00
    clock = ManualClock(datetime(2026, 11, 26, 5, 0, tzinfo=UTC))
    job = evaluation_job(db, clock, settings, poll_s=0.01)
    assert not await job.run_due()  # before the hour
    clock.set(datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    assert await job.run_due()
    assert not await job.run_due()
    restarted = evaluation_job(db, clock, settings, poll_s=0.01)  # a restart the same day
    assert not await restarted.run_due()
    clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    assert await restarted.run_due()
    async with db.session() as s:
        runs = list(await s.scalars(select(ScheduledRun).order_by(ScheduledRun.day)))
        assert [r.day for r in runs] == [date(2026, 11, 26), date(2026, 11, 27)]
        assert runs[0].result["instalments"]["broken"] == 1
        assert await s.scalar(select(func.count(Task.id))) == 1


async def test_the_daily_job_loop_survives_a_failing_run(sqlite_db):
    import asyncio

    calls = []

    async def work(session, day, now):
        calls.append(day)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return {}

    clock = ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    job = DailyJob(sqlite_db, clock, job="t", work=work, hour=6, zone=ZoneInfo("UTC"), poll_s=0.01)
    task = asyncio.create_task(job.run())
    await eventually(lambda: job.runs, what="the retried run")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert job.runs == 1 and len(calls) == 2
