"""A small floor, built by hand, whose report figures the tests work out by hand.

The center is in Europe/Moscow (UTC+3 all year) so local days differ from UTC days: the range
10-11 November 2026 (local) is [9 Nov 21:00 UTC, 11 Nov 21:00 UTC). Every time below is UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from crm_core.db import Database
from crm_core.models import (
    Arrangement,
    ArrangementStatus,
    CallDisposition,
    Contact,
    Debt,
    Direction,
    Interaction,
    Payment,
    PromiseStatus,
    PromiseToPay,
    QueueDefinition,
    Role,
    User,
)
from dialer.tables import CampaignRow, DialAttemptRow
from recordings.tables import Recording, RecordingStatus
from reports.common import ReportRange
from routing.tables import AgentStateLog

ZONE = ZoneInfo("Europe/Moscow")
RANGE = ReportRange(date(2026, 11, 10), date(2026, 11, 11), ZONE)
NOW = datetime(2026, 11, 11, 20, 30, tzinfo=UTC)  # op2 is still ready at this moment


def t(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@dataclass
class Floor:
    sup: int
    op1: int
    op2: int
    op3: int
    admin: int
    calls: dict[str, int]
    recording_i1: int
    autumn: int
    winter: int


async def build(db: Database) -> Floor:
    async with db.session() as s:
        made = t(1, 0)
        sup = User(
            username="sup",
            full_name="Sveta",
            role=Role.SUPERVISOR,
            password_hash="x",
            created_at=made,
        )
        admin = User(
            username="admin", full_name="Ada", role=Role.ADMIN, password_hash="x", created_at=made
        )
        s.add_all([sup, admin])
        await s.flush()
        op1 = User(
            username="op1",
            full_name="Olga",
            role=Role.OPERATOR,
            password_hash="x",
            team_id=sup.id,
            created_at=made,
        )
        op2 = User(
            username="op2",
            full_name="Pavel",
            role=Role.OPERATOR,
            password_hash="x",
            team_id=sup.id,
            created_at=made,
        )
        op3 = User(
            username="op3", full_name="Zoya", role=Role.OPERATOR, password_hash="x", created_at=made
        )
        s.add_all([op1, op2, op3])
        await s.flush()
        a1, a2, a3 = str(op1.id), str(op2.id), str(op3.id)

        def state(agent: str, at: datetime, new: str, reason: str | None = None) -> None:
            s.add(AgentStateLog(agent_id=agent, state=new, previous="", reason=reason, at=at))

        # op1, 10 Nov local
        state(a1, t(9, 20, 0), "ready")  # before the range: ready from its start (21:00)
        state(a1, t(9, 21, 30), "paused", "lunch")
        state(a1, t(9, 22, 0), "ready")
        state(a1, t(9, 22, 10), "reserved")
        state(a1, t(9, 22, 10, 10), "ringing")
        state(a1, t(9, 22, 10, 20), "on_call")
        state(a1, t(9, 22, 15, 20), "wrap_up")
        state(a1, t(9, 22, 16, 20), "paused", "break")
        state(a1, t(9, 22, 26, 20), "logged_out")
        # op1 across local midnight (21:00 UTC on 10 Nov)
        state(a1, t(10, 20, 50), "ready")
        state(a1, t(10, 21, 10), "on_call")
        state(a1, t(10, 21, 20), "wrap_up")
        state(a1, t(10, 21, 21), "ready")
        state(a1, t(10, 22, 21), "logged_out")
        # op2: ready and still so at NOW
        state(a2, t(11, 20, 0), "ready")
        # op3: no team
        state(a3, t(10, 10, 0), "ready")
        state(a3, t(10, 10, 10), "logged_out")
        # after the range: ignored
        state(a1, t(12, 9, 0), "ready")

        s.add_all(
            [
                QueueDefinition(name="billing", sl_threshold_s=20, sl_target_pct=80),
                Contact(id=1, first_name="Ivan", created_at=made, updated_at=made),
            ]
        )
        await s.flush()
        d1 = Debt(
            contact_id=1,
            creditor="Northwind",
            reference="N-1",
            principal=Decimal(900),
            balance=Decimal(900),
            due_date=date(2026, 1, 1),
            created_at=made,
        )
        d2 = Debt(
            contact_id=1,
            creditor="Contoso",
            reference="C-1",
            principal=Decimal(900),
            balance=Decimal(900),
            due_date=date(2026, 1, 1),
            created_at=made,
        )
        s.add_all([d1, d2])
        await s.flush()

        def call(name: str, started: datetime, **fields) -> Interaction:
            row = Interaction(linkedid=name, started_at=started, **fields)
            s.add(row)
            return row

        inbound, outbound = Direction.INBOUND, Direction.OUTBOUND
        i1 = call(
            "i1",
            t(9, 22, 9),
            direction=inbound,
            queue="billing",
            agent_id=op1.id,
            answered_at=t(9, 22, 9, 5),
            connected_at=t(9, 22, 10, 20),
            ended_at=t(9, 22, 15, 20),
            hangup_cause=16,
            hangup_cause_text="Normal Clearing",
            disposition="rpc",
            caller_number="=cmd|' /C calc'!A0",
            transitions=[{"at": t(9, 22, 9, 40).isoformat(), "what": "ivr_queued"}],
        )
        i2 = call(
            "att-2",
            t(10, 21, 9, 30),
            direction=outbound,
            agent_id=op1.id,
            campaign="Autumn",
            connected_at=t(10, 21, 10),
            ended_at=t(10, 21, 20),
            disposition="wrong_number",
        )
        i3 = call(
            "i3",
            t(10, 8, 0),
            direction=inbound,
            queue="billing",
            answered_at=t(10, 8, 0, 2),
            ended_at=t(10, 8, 0, 5),
        )
        i4 = call("i4", t(10, 9, 0), direction=inbound, queue="billing", ended_at=t(10, 9, 1))
        i5 = call(
            "i5",
            t(10, 10, 0),
            direction=inbound,
            queue="sales",
            agent_id=op3.id,
            answered_at=t(10, 10, 0),
            connected_at=t(10, 10, 0, 10),
            ended_at=t(10, 10, 3, 10),
            disposition="rpc",
        )
        i6 = call(
            "i6",
            t(10, 12, 0),
            direction=inbound,
            queue="billing",
            agent_id=op1.id,
            answered_at=t(10, 12, 0),
            connected_at=t(10, 12, 0, 30),
            ended_at=t(10, 12, 2),
        )
        call(
            "i7",
            t(12, 10, 0),
            direction=inbound,
            queue="billing",
            agent_id=op1.id,
            connected_at=t(12, 10, 0, 5),
            ended_at=t(12, 10, 1),
        )
        i8 = call(
            "i8",
            t(9, 20, 59, 50),
            direction=inbound,
            queue="billing",
            agent_id=op2.id,
            connected_at=t(9, 21, 0, 15),
            ended_at=t(9, 21, 5),
            transitions=[{"at": t(9, 21, 0, 10).isoformat(), "what": "ivr_queued"}],
        )
        await s.flush()
        for interaction, user, code in (
            (i1, op1, "rpc"),
            (i2, op1, "wrong_number"),
            (i5, op3, "rpc"),
        ):
            s.add(
                CallDisposition(
                    interaction_id=interaction.id,
                    user_id=user.id,
                    key=f"k{interaction.id}",
                    code=code,
                    saved_at=interaction.ended_at,
                )
            )
        recording = Recording(
            linkedid="i1",
            interaction_id=i1.id,
            status=RecordingStatus.STORED,
            path="/var/spool/asterisk/monitor/2026/i1.wav",
            channel="PJSIP/1",
            started_at=t(9, 22, 10, 20),
        )
        s.add(recording)

        def promise(debt, by, at, amount, due, status, interaction=None) -> None:
            s.add(
                PromiseToPay(
                    debt_id=debt.id,
                    created_by=by.id,
                    created_at=at,
                    amount=Decimal(amount),
                    due_on=due,
                    status=status,
                    interaction_id=interaction.id if interaction else None,
                )
            )

        promise(d1, op1, t(9, 22, 16), 100, date(2026, 11, 20), PromiseStatus.KEPT, i1)
        promise(d2, op1, t(10, 21, 30), 200, date(2026, 11, 15), PromiseStatus.BROKEN, i2)
        promise(d1, op3, t(10, 10, 5), 40, date(2026, 11, 25), PromiseStatus.OPEN, i5)
        promise(d1, op1, t(10, 12, 5), 500, date(2026, 11, 25), PromiseStatus.CANCELLED)
        promise(d1, op1, t(12, 12, 0), 70, date(2026, 11, 25), PromiseStatus.OPEN)
        for debt, on, amount in (
            (d1, date(2026, 11, 11), "10.00"),
            (d1, date(2026, 11, 12), "60.00"),
            (d1, date(2026, 11, 21), "50.00"),
            (d2, date(2026, 11, 16), "50.00"),
            (d2, date(2026, 11, 30), "25.00"),
        ):
            s.add(Payment(debt_id=debt.id, paid_on=on, amount=Decimal(amount)))
        s.add(
            Arrangement(
                debt_id=d2.id,
                status=ArrangementStatus.ACTIVE,
                total=Decimal(300),
                starts_on=date(2026, 11, 11),
                created_at=t(11, 10),
                created_by=op1.id,
            )
        )
        s.add(
            Arrangement(
                debt_id=d1.id,
                status=ArrangementStatus.CANCELLED,
                total=Decimal(99),
                starts_on=date(2026, 11, 10),
                created_at=t(10, 10),
                created_by=op1.id,
            )
        )

        autumn = CampaignRow(name="Autumn", created_at=made, updated_at=made)
        winter = CampaignRow(name="Winter", created_at=made, updated_at=made)
        s.add_all([autumn, winter])
        await s.flush()

        def attempt(aid, campaign, at, outcome, **fields) -> None:
            s.add(
                DialAttemptRow(
                    attempt_id=aid,
                    campaign_id=campaign.id,
                    debt_id=d1.id,
                    phone="+70000000000",
                    started_at=at,
                    outcome=outcome,
                    **fields,
                )
            )

        attempt("att-2", autumn, t(10, 21, 9, 30), "human", agent_id=a1, call_id="att-2")
        attempt("a2", autumn, t(10, 8, 0), "human", abandoned=True)
        attempt("a3", autumn, t(10, 8, 5), "no_answer")
        attempt("a4", autumn, t(10, 8, 6), "not_dialled")
        attempt("a5", autumn, t(10, 8, 7), "human", agent_id=a3, right_party_contact=True)
        attempt("a6", autumn, t(10, 8, 8), "busy")
        attempt("a7", autumn, t(11, 9, 0), None)
        attempt("a8", autumn, t(10, 9, 0), "human", inbound=True, right_party_contact=True)
        attempt("w1", winter, t(11, 10, 0), "machine")
        attempt("w2", winter, t(9, 20, 0), "human")
        await s.commit()
        return Floor(
            sup=sup.id,
            op1=op1.id,
            op2=op2.id,
            op3=op3.id,
            admin=admin.id,
            calls={
                "i1": i1.id,
                "i2": i2.id,
                "i3": i3.id,
                "i4": i4.id,
                "i5": i5.id,
                "i6": i6.id,
                "i8": i8.id,
            },
            recording_i1=recording.id,
            autumn=autumn.id,
            winter=winter.id,
        )


@dataclass
class Book:
    """The portfolio debts of `build_book`, by name."""

    debts: dict[str, int]


def utc(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


async def build_book(db: Database, floor: Floor) -> Book:
    """Debts placed in spring and summer 2026 for the liquidation and roll-rate reports (on top
    of `build`, whose two debts are placed in November and stay out of these reports' ranges).

    - L1 Fabrikam/retail, placed 10 Jun, principal 1000, due 1 May, op1's: paid 20 Jun 100,
      5 Jul 200, 31 Aug 100, 10 Sep 50 (balance 550)
    - L2 Fabrikam/retail, placed 30 Jun 22:00 UTC = 1 Jul local, principal 500, due 20 Jun, op3's:
      paid 15 Jul 250, 1 Sep 250 (balance 0)
    - L3 Tailspin/legal, placed 15 Jun, principal 1000, due 1 Mar, unassigned: paid 20 Jul 300
      (balance 700)
    - R1 Fabrikam/retail, placed 10 May, principal 400, due 15 Jul, op1's: no payment
    - R2 Tailspin/legal, placed 1 Apr, principal 300, due 1 Apr, unassigned: paid 31 Jul 300
    """
    plan = {
        "L1": ("Fabrikam", "retail", utc(2026, 6, 10), 1000, 550, date(2026, 5, 1), floor.op1,
               ((date(2026, 6, 20), 100), (date(2026, 7, 5), 200), (date(2026, 8, 31), 100),
                (date(2026, 9, 10), 50))),
        "L2": ("Fabrikam", "retail", utc(2026, 6, 30, 22), 500, 0, date(2026, 6, 20), floor.op3,
               ((date(2026, 7, 15), 250), (date(2026, 9, 1), 250))),
        "L3": ("Tailspin", "legal", utc(2026, 6, 15, 12), 1000, 700, date(2026, 3, 1), None,
               ((date(2026, 7, 20), 300),)),
        "R1": ("Fabrikam", "retail", utc(2026, 5, 10), 400, 400, date(2026, 7, 15), floor.op1, ()),
        "R2": ("Tailspin", "legal", utc(2026, 4, 1), 300, 0, date(2026, 4, 1), None,
               ((date(2026, 7, 31), 300),)),
    }  # fmt: skip
    ids: dict[str, int] = {}
    async with db.session() as s:
        for name, (creditor, segment, placed, principal, balance, due, agent, paid) in plan.items():
            debt = Debt(
                contact_id=1,
                creditor=creditor,
                reference=name,
                segment=segment,
                principal=Decimal(principal),
                balance=Decimal(balance),
                due_date=due,
                assigned_agent_id=agent,
                created_at=placed,
            )
            s.add(debt)
            await s.flush()
            ids[name] = debt.id
            for on, amount in paid:
                s.add(Payment(debt_id=debt.id, paid_on=on, amount=Decimal(amount)))
        await s.commit()
    return Book(ids)
