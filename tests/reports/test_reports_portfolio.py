"""The liquidation stair-step and the roll rates on the hand-built book
(tests/reports/dataset.py `build_book`), worked out by hand here, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from crm_core.models import Role
from reports import export, portfolio
from reports.common import ReportError, ReportRange, Scope, scope_for
from tests.reports.dataset import ZONE, build, build_book

D = Decimal
SUMMER = ReportRange(date(2026, 6, 1), date(2026, 8, 31), ZONE)
ROLLS = ReportRange(date(2026, 7, 1), date(2026, 8, 31), ZONE)


def by_key(report):
    return {row["key"]: row for row in report.rows}


def test_buckets_and_months():
    assert [portfolio.bucket_of(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 180, 181)] == [
        0, 1, 1, 2, 2, 3, 3, 4, 4, 5,
    ]  # fmt: skip
    assert portfolio.month_index(date(2026, 6, 1), date(2026, 6, 30)) == 1
    assert portfolio.month_index(date(2026, 6, 1), date(2027, 1, 2)) == 8
    assert portfolio.month_index(date(2026, 6, 1), date(2026, 5, 2)) == 1
    assert portfolio.month_ends(date(2026, 11, 30), date(2027, 2, 27)) == [
        date(2026, 11, 30), date(2026, 12, 31), date(2027, 1, 31),
    ]  # fmt: skip


async def test_liquidation_by_placement_month(db):
    f = await build(db)
    await build_book(db, f)
    async with db.session() as s:
        report = await portfolio.liquidation_report(
            s, SUMMER, Scope(None), as_of=date(2026, 9, 15), months=4
        )
        early = await portfolio.liquidation_report(
            s, SUMMER, Scope(None), as_of=date(2026, 9, 5), months=4
        )
        fabrikam = await portfolio.liquidation_report(
            s, SUMMER, Scope(None), as_of=date(2026, 9, 15), months=4, creditor="Fabrikam"
        )
        legal = await portfolio.liquidation_report(
            s, SUMMER, Scope(None), as_of=date(2026, 9, 15), months=2, segment="legal"
        )
        team = await scope_for(s, f.sup, Role.SUPERVISOR)
        mine = await portfolio.liquidation_report(
            s, SUMMER, team, as_of=date(2026, 9, 15), months=4
        )
        with pytest.raises(ReportError):
            await portfolio.liquidation_report(s, SUMMER, Scope(None), as_of=date.today(), months=0)
    rows = by_key(report)
    assert list(rows) == ["2026-06", "2026-07"]  # L2 placed 1 Jul local (30 Jun UTC)
    june = rows["2026-06"]  # L1 + L3: 1000 + 1000 placed
    assert (june["debts"], june["placed"], june["collected"]) == (2, D("2000.00"), D("750.00"))
    # Jun 100; Jul +200 +300; Aug +100; Sep (to the 15th) +50
    assert [june[f"m{k}"] for k in range(1, 5)] == pytest.approx([0.05, 0.3, 0.35, 0.375])
    july = rows["2026-07"]  # L2: 250 in Jul, 250 on 1 Sep; October not begun at 15 Sep
    assert (july["debts"], july["placed"], july["collected"]) == (1, D("500.00"), D("500.00"))
    assert [july[f"m{k}"] for k in range(1, 4)] == pytest.approx([0.5, 0.5, 1.0])
    assert july["m4"] is None
    total = report.totals
    assert (total["debts"], total["placed"], total["collected"]) == (3, D("2500.00"), D("1250.00"))
    # months 1-3 pool both placement months, month 4 June only
    assert [total[f"m{k}"] for k in range(1, 5)] == pytest.approx([0.14, 0.34, 0.48, 0.375])
    assert [c.key for c in report.columns][-4:] == ["m1", "m2", "m3", "m4"]
    assert by_key(early)["2026-06"]["m4"] == pytest.approx(0.35)  # the 10 Sep payment not yet
    fab = by_key(fabrikam)["2026-06"]  # L1 only
    assert [fab[f"m{k}"] for k in range(1, 5)] == pytest.approx([0.1, 0.3, 0.4, 0.45])
    assert list(by_key(legal)) == ["2026-06"]
    assert [by_key(legal)["2026-06"][f"m{k}"] for k in (1, 2)] == pytest.approx([0.0, 0.3])
    assert by_key(legal)["2026-06"]["collected"] == D("300.00")
    assert list(by_key(mine)) == ["2026-06"]  # op1's L1; L3 unassigned, L2 op3's
    assert by_key(mine)["2026-06"]["placed"] == D("1000.00")


async def test_roll_rates_between_month_ends(db):
    f = await build(db)
    await build_book(db, f)
    async with db.session() as s:
        pooled = await portfolio.roll_rate_report(s, ROLLS, Scope(None))
        monthly = await portfolio.roll_rate_report(s, ROLLS, Scope(None), breakdown="month")
        team = await scope_for(s, f.sup, Role.SUPERVISOR)
        mine = await portfolio.roll_rate_report(s, ROLLS, team)
        tailspin = await portfolio.roll_rate_report(s, ROLLS, Scope(None), creditor="Tailspin")
        none = await portfolio.roll_rate_report(
            s, ReportRange(date(2026, 8, 1), date(2026, 8, 30), ZONE), Scope(None)
        )
    # 30 Jun -> 31 Jul: L1 1-30 (10 d since 20 Jun) stays 1-30 (26 d since 5 Jul), 900;
    # L3 91-180 (121 d past 1 Mar) cured to 1-30 (11 d since 20 Jul), 1000; R1 current (due
    # 15 Jul) forward to 1-30, 400; R2 61-90 (90 d) paid off 31 Jul, 300; L2 not yet placed.
    # 31 Jul -> 31 Aug: L1 1-30 back to current (paid 31 Aug), 700; L2 1-30 (16 d) forward to
    # 31-60, 250; L3 forward to 31-60, 700; R1 forward to 31-60, 400; R2 paid before.
    rows = by_key(pooled)
    assert list(rows) == ["current", "1-30", "61-90", "91-180"]
    assert (rows["current"]["debts"], rows["current"]["forward"]) == (1, 1)
    assert rows["current"]["forward_rate"] == 1.0 and rows["current"]["to_1-30"] == 1.0
    one = rows["1-30"]
    assert (one["debts"], one["balance"]) == (5, D("2950.00"))
    assert (one["stayed"], one["forward"], one["back"], one["paid_off"]) == (1, 3, 1, 0)
    assert (one["stayed_balance"], one["forward_balance"], one["back_balance"]) == (
        D("900.00"), D("1350.00"), D("700.00"),
    )  # fmt: skip
    assert one["forward_rate"] == pytest.approx(1350 / 2950)
    assert one["forward_count_rate"] == pytest.approx(3 / 5)
    assert one["back_rate"] == pytest.approx(700 / 2950)
    assert (one["to_current"], one["to_1-30"], one["to_31-60"]) == pytest.approx(
        (700 / 2950, 900 / 2950, 1350 / 2950)
    )
    assert (rows["61-90"]["paid_off"], rows["61-90"]["paid_off_rate"]) == (1, 1.0)
    assert (rows["91-180"]["back"], rows["91-180"]["balance"]) == (1, D("1000.00"))
    assert rows["91-180"]["to_1-30"] == 1.0
    total = pooled.totals
    assert (total["debts"], total["balance"]) == (8, D("4650.00"))
    assert (total["stayed"], total["forward"], total["back"], total["paid_off"]) == (1, 4, 2, 1)
    assert (total["forward_balance"], total["back_balance"]) == (D("1750.00"), D("1700.00"))
    assert total["paid_off_rate"] == pytest.approx(300 / 4650)
    assert pooled.notes["month_ends"] == [
        ["2026-06-30", "2026-07-31"], ["2026-07-31", "2026-08-31"],
    ]  # fmt: skip
    months = by_key(monthly)
    assert list(months) == [
        "2026-07/current", "2026-07/1-30", "2026-07/61-90", "2026-07/91-180", "2026-08/1-30",
    ]  # fmt: skip
    august = months["2026-08/1-30"]
    assert (august["debts"], august["balance"], august["forward"], august["back"]) == (
        4, D("2050.00"), 3, 1,
    )  # fmt: skip
    assert august["period"] == "2026-07-31 → 2026-08-31"
    mine_rows = by_key(mine)  # op1's L1 and R1
    assert (mine_rows["current"]["debts"], mine_rows["1-30"]["debts"]) == (1, 3)
    assert mine.totals["balance"] == D("2400.00")  # 400 + 900 + 700 + 400
    assert list(by_key(tailspin)) == ["1-30", "61-90", "91-180"]  # L3 and R2
    assert none.rows == [] and none.totals["debts"] == 0


async def test_portfolio_csv(db):
    f = await build(db)
    await build_book(db, f)
    async with db.session() as s:
        report = await portfolio.liquidation_report(
            s, SUMMER, Scope(None), as_of=date(2026, 9, 15), months=4
        )
        rolls = await portfolio.roll_rate_report(s, ROLLS, Scope(None))
    rows = list(csv.reader(io.StringIO(b"".join(export.report_csv(report)).decode())))
    assert rows[0] == [
        "Placement month", "Debts", "Placed", "Collected in 4 months",
        "Month 1", "Month 2", "Month 3", "Month 4",
    ]  # fmt: skip
    assert rows[1] == ["2026-06", "2", "2000.00", "750.00", "0.05", "0.3", "0.35", "0.375"]
    assert rows[2][-1] == "" and rows[-1][0] == "Total"
    table = list(csv.reader(io.StringIO(b"".join(export.report_csv(rolls)).decode())))
    assert table[0][:4] == ["From bucket", "Debts", "Balance", "Stayed"]
    assert [r[0] for r in table[1:]] == ["current", "1-30", "61-90", "91-180", "Total"]
