"""Each report's figures on the hand-built floor (tests/reports/dataset.py), worked out by hand
here, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from callboard.schema import metadata
from crm_core.models import Role
from reports import agents, calls, campaigns, collected, export, queues, tables
from reports.common import ReportError, ReportRange, Scope, scope_for
from tests.reports.dataset import NOW, RANGE, ZONE, build

D = Decimal


def by_key(report):
    return {row["key"]: row for row in report.rows}


def test_column_views_match_the_owning_packages_tables():
    real = metadata().tables
    for view in (tables.agent_state_log, tables.dialer_attempts, tables.dialer_campaigns,
                 tables.recordings):  # fmt: skip
        assert view.name in real
        for column in view.columns:
            assert column.name in real[view.name].columns, (view.name, column.name)


def test_the_range_is_whole_local_days():
    from datetime import date

    assert RANGE.start.isoformat() == "2026-11-10T00:00:00+03:00"
    assert (RANGE.end - RANGE.start).days == 2
    with pytest.raises(ReportError):
        ReportRange(date(2026, 11, 2), date(2026, 11, 1), ZONE)
    with pytest.raises(ReportError):
        ReportRange(date(2025, 1, 1), date(2026, 11, 1), ZONE)


async def test_agent_performance_by_agent(db):
    f = await build(db)
    async with db.session() as s:
        report = await agents.agent_performance(s, RANGE, Scope(None), now=NOW)
    rows = by_key(report)
    assert set(rows) == {f.op1, f.op2, f.op3}
    op1 = rows[f.op1]
    # 10 Nov local: ready 1800 + 600 (+600 before midnight), lunch 1800, reserved 10, ringing 10,
    # talk 300, wrap 60, break 600; 11 Nov: ready 600 + 3600, talk 600, wrap 60
    assert op1["ready_s"] == 1800 + 600 + 600 + 600 + 3600
    assert op1["talk_s"] == 300 + 600
    assert op1["wrap_s"] == 60 + 60
    assert op1["paused_s"] == 2400
    assert op1["paused_by_reason"] == {"break": 600, "lunch": 1800}
    assert op1["logged_in_s"] == 7200 + 900 + 120 + 2400 + 20
    assert op1["occupancy"] == pytest.approx(1020 / (10640 - 2400))
    assert (op1["calls_inbound"], op1["calls_outbound"], op1["calls_handled"]) == (2, 1, 3)
    assert op1["aht_s"] == 340  # (900 + 120) / 3
    assert op1["rpc"] == 1
    assert (op1["promises"], op1["promised"]) == (2, D("300.00"))
    assert op1["kept_rate"] == 0.5
    # P1 100 due 20 Nov: 10 + 60 + 50 paid by 22 Nov -> 100 (capped); P2 200: 50 by 17 Nov
    assert op1["collected"] == D("150.00")
    op2 = rows[f.op2]
    assert (op2["logged_in_s"], op2["ready_s"], op2["calls_handled"]) == (1800, 1800, 0)
    assert op2["aht_s"] is None and op2["occupancy"] == 0
    op3 = rows[f.op3]
    assert (op3["ready_s"], op3["calls_inbound"], op3["rpc"], op3["promises"]) == (600, 1, 1, 1)
    assert op3["kept_rate"] is None and op3["collected"] == D("40.00")
    total = report.totals
    assert total["logged_in_s"] == 10640 + 1800 + 600
    assert total["calls_handled"] == 4 and total["promised"] == D("340.00")
    assert report.notes["pause_reasons"] == ["break", "lunch"]


async def test_agent_performance_by_day_and_team_and_scope(db):
    f = await build(db)
    async with db.session() as s:
        by_day = await agents.agent_performance(
            s, RANGE, Scope(None), now=NOW, breakdown="day", agent_id=f.op1
        )
        by_team = await agents.agent_performance(s, RANGE, Scope(None), now=NOW, breakdown="team")
        team = await scope_for(s, f.sup, Role.SUPERVISOR)
        mine = await agents.agent_performance(s, RANGE, team, now=NOW)
    days = by_day.rows
    assert [d["key"] for d in days] == ["2026-11-10", "2026-11-11"]
    assert (days[0]["ready_s"], days[0]["talk_s"], days[0]["paused_s"]) == (3000, 300, 2400)
    assert days[0]["logged_in_s"] == 5780
    assert (days[0]["calls_inbound"], days[0]["rpc"], days[0]["promised"]) == (2, 1, D("100.00"))
    assert (days[1]["ready_s"], days[1]["talk_s"], days[1]["logged_in_s"]) == (4200, 600, 4860)
    assert (days[1]["calls_outbound"], days[1]["promised"]) == (1, D("200.00"))
    teams = by_key(by_team)
    assert teams[f.sup]["label"] == "Sveta"
    assert teams[f.sup]["logged_in_s"] == 10640 + 1800
    assert teams[None]["label"] == "(no team)" and teams[None]["logged_in_s"] == 600
    assert team.agent_ids == frozenset({f.sup, f.op1, f.op2})
    assert set(by_key(mine)) == {f.op1, f.op2}


async def test_queues(db):
    f = await build(db)
    del f
    async with db.session() as s:
        by_queue = await queues.queue_report(s, RANGE)
        hourly = await queues.queue_report(s, RANGE, breakdown="interval", interval_minutes=60)
        billing_days = await queues.queue_report(s, RANGE, breakdown="day", queue="billing")
        with pytest.raises(ReportError):
            await queues.queue_report(s, RANGE, breakdown="interval", interval_minutes=20)
    rows = by_key(by_queue)
    billing = rows["billing"]
    # i8 (queued 21:00:10, answered after 5 s), i1 (40 s), i3 (abandoned after 3 s: short),
    # i4 (abandoned after 60 s), i6 (30 s)
    assert (billing["offered"], billing["answered"], billing["abandoned"]) == (5, 3, 2)
    assert (billing["short_abandoned"], billing["answered_within"]) == (1, 1)
    assert billing["service_level"] == pytest.approx(1 / 4)
    assert billing["asa_s"] == 25.0 and billing["longest_wait_s"] == 60.0
    assert billing["avg_abandon_s"] == 31.5 and billing["longest_abandon_s"] == 60.0
    assert (billing["target_pct"], billing["target_met"]) == (80, False)
    sales = rows["sales"]
    assert (sales["offered"], sales["answered"], sales["service_level"]) == (1, 1, 1.0)
    assert (sales["asa_s"], sales["target_pct"], sales["target_met"]) == (10.0, 80, True)
    total = by_queue.totals
    assert (total["offered"], total["answered"], total["abandoned"]) == (6, 4, 2)
    assert total["service_level"] == pytest.approx(2 / 5)
    assert total["asa_s"] == 21.2  # (5 + 40 + 30 + 10) / 4 = 21.25
    intervals = by_key(hourly)
    assert set(intervals) == {
        "2026-11-10 00:00",  # i8
        "2026-11-10 01:00",  # i1
        "2026-11-10 11:00",  # i3
        "2026-11-10 12:00",  # i4
        "2026-11-10 13:00",  # i5
        "2026-11-10 15:00",  # i6
    }
    assert intervals["2026-11-10 12:00"]["abandoned"] == 1
    assert [r["key"] for r in billing_days.rows] == ["2026-11-10"]
    assert billing_days.totals["target_pct"] == 80


async def test_campaigns(db):
    f = await build(db)
    async with db.session() as s:
        report = await campaigns.campaign_report(s, RANGE)
        daily = await campaigns.campaign_report(s, RANGE, breakdown="day")
    rows = by_key(report)
    autumn = rows[f.autumn]
    assert autumn["label"] == "Autumn"
    assert (autumn["attempts"], autumn["not_dialled"], autumn["connects"]) == (6, 1, 2)
    assert (autumn["rpc"], autumn["rpc_rate"]) == (1, 0.5)
    assert (autumn["promises"], autumn["promise_rate"]) == (1, 1.0)
    assert (autumn["live_answered"], autumn["abandoned"]) == (3, 1)
    assert autumn["abandon_rate"] == pytest.approx(1 / 3)
    # 10 Nov: a2 abandoned of a2, a5 live = 50 %; 11 Nov: att-2, none abandoned
    assert autumn["worst_day_abandon_rate"] == 0.5
    assert (autumn["days_over_limit"], autumn["over_limit"]) == (1, True)
    assert autumn["outcomes"] == {"busy": 1, "human": 3, "in_progress": 1, "no_answer": 1}
    winter = rows[f.winter]
    assert (winter["attempts"], winter["live_answered"], winter["abandon_rate"]) == (1, 0, None)
    assert winter["outcomes"] == {"machine": 1} and winter["over_limit"] is False
    days = by_key(daily)
    assert (days["2026-11-10"]["attempts"], days["2026-11-10"]["not_dialled"]) == (4, 1)
    assert days["2026-11-10"]["promises"] == 0
    assert (days["2026-11-11"]["attempts"], days["2026-11-11"]["promises"]) == (3, 1)
    assert report.totals["attempts"] == 7 and report.notes["abandon_limit"] == 0.03


async def test_collections(db):
    f = await build(db)
    async with db.session() as s:
        report = await collected.collections_report(s, RANGE, Scope(None))
        daily = await collected.collections_report(s, RANGE, Scope(None), breakdown="day")
        team = await scope_for(s, f.sup, Role.SUPERVISOR)
        mine = await collected.collections_report(s, RANGE, team)
    rows = by_key(report)
    north = rows["Northwind"]
    assert (north["promises"], north["promised"]) == (2, D("140.00"))
    assert (north["kept"], north["kept_amount"], north["open"]) == (1, D("100.00"), 1)
    assert north["kept_rate"] == 1.0
    assert north["collected"] == D("140.00")  # P1 capped at 100, P3 capped at 40
    assert (north["payments"], north["paid"]) == (1, D("10.00"))  # 11 Nov only
    contoso = rows["Contoso"]
    assert (contoso["broken"], contoso["broken_amount"], contoso["collected"]) == (
        1,
        D("200.00"),
        D("50.00"),
    )
    assert (contoso["plans"], contoso["plans_total"]) == (1, D("300.00"))
    assert contoso["collected_rate"] == 0.25
    days = by_key(daily)
    assert days["2026-11-10"]["promised"] == D("140.00")
    assert (days["2026-11-11"]["promised"], days["2026-11-11"]["paid"]) == (D("200.00"), D("10.00"))
    team_rows = by_key(mine)
    assert team_rows["Northwind"]["promised"] == D("100.00")
    assert "paid" not in team_rows["Northwind"]
    assert [c.key for c in mine.columns][-1] == "plans_total"


async def test_call_detail_records(db):
    f = await build(db)
    async with db.session() as s:
        everything = await calls.call_page(s, RANGE, Scope(None), per_page=500)
        first = await calls.call_page(s, RANGE, Scope(None), per_page=2)
        team = await scope_for(s, f.sup, Role.SUPERVISOR)
        mine = await calls.call_page(s, RANGE, team)
        billing = await calls.call_page(s, RANGE, Scope(None), queue="billing", direction="inbound")
        streamed = [row async for row in calls.stream_calls(s, RANGE, team)]
    c = f.calls
    order = [c["i1"], c["i3"], c["i4"], c["i5"], c["i6"], c["i2"]]
    assert [r["id"] for r in everything["calls"]] == order
    assert [r["id"] for r in first["calls"]] == order[:2] and first["more"] is True
    assert [r["id"] for r in mine["calls"]] == [c["i1"], c["i6"], c["i2"]]
    assert [r["id"] for r in streamed] == [c["i1"], c["i6"], c["i2"]]
    assert [r["id"] for r in billing["calls"]] == [c["i1"], c["i3"], c["i4"], c["i6"]]
    i1 = everything["calls"][0]
    assert i1["recording_id"] == f.recording_i1 and "/var" not in str(i1)
    assert (i1["agent"], i1["queue"], i1["disposition"]) == ("Olga", "billing", "rpc")
    assert (i1["hangup_cause"], i1["wait_s"], i1["talk_s"]) == (16, 80, 300)


async def test_csv_is_neutralised_and_streamed(db):
    f = await build(db)
    async with db.session() as s:
        report = await agents.agent_performance(s, RANGE, Scope(None), now=NOW)
        chunks = [
            chunk async for chunk in export.calls_csv(calls.stream_calls(s, RANGE, Scope(None)))
        ]
    rows = list(csv.reader(io.StringIO(b"".join(export.report_csv(report)).decode())))
    assert rows[0][:3] == ["Agent", "Logged in", "Ready"]
    assert rows[0][-2:] == ["paused_s:break", "paused_s:lunch"]
    assert rows[-1][0] == "Total" and rows[-1][-1] == "1800"
    olga = next(r for r in rows if r[0] == "Olga")
    assert olga[rows[0].index("Kept rate")] == "0.5"
    lines = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(lines) == 7
    i1 = next(r for r in lines if r[0] == str(f.calls["i1"]))
    assert i1[3] == "'=cmd|' /C calc'!A0"  # a formula is shown, never run
