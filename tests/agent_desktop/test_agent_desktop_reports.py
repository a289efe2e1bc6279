"""The reports over HTTP: who may see what (roles, team scoping), bad parameters, the CSV export
(streamed, formula-neutralised, audited) and the page with its server-drawn chart. The figures
themselves are checked in tests/reports on the same hand-built floor."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from agent_desktop.app import create_app
from agent_desktop.keys import DesktopDeps
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from crm_core.config import Settings
from crm_core.db import Database
from crm_core.models import AuditEntry, User
from tests.agent_desktop.conftest import _HASH, PASSWORD
from tests.reports.dataset import NOW, Floor, build, build_book

RANGE = "from=2026-11-10&to=2026-11-11"


@dataclasses.dataclass
class Served:
    client: TestClient
    floor: Floor
    db: Database


@pytest.fixture
async def served(sqlite_db: Database) -> AsyncIterator[Served]:
    floor = await build(sqlite_db)
    async with sqlite_db.session() as s:
        await s.execute(update(User).values(password_hash=_HASH))
        await s.commit()
    settings = Settings()
    settings = dataclasses.replace(
        settings, center=dataclasses.replace(settings.center, timezone="Europe/Moscow")
    )
    bus = InProcessBus()
    deps = DesktopDeps(db=sqlite_db, bus=bus, settings=settings, clock=ManualClock(NOW))
    async with TestClient(TestServer(create_app(deps))) as client:
        yield Served(client, floor, sqlite_db)
    bus.close()


async def as_user(client: TestClient, sign_in, username: str) -> None:
    await sign_in(client, username, PASSWORD)


async def test_signed_out_and_operators_get_no_reports(served, sign_in):
    client = served.client
    assert (await client.get(f"/api/reports/agents?{RANGE}")).status == 401
    await as_user(client, sign_in, "op1")
    for name in ("agents", "queues", "campaigns", "collections", "calls"):
        response = await client.get(f"/api/reports/{name}?{RANGE}")
        assert response.status == 403, name
    assert (await client.get("/reports")).status == 403


async def test_a_supervisor_sees_their_team_and_an_admin_everyone(served, sign_in):
    client, f = served.client, served.floor
    await as_user(client, sign_in, "sup")
    body = await (await client.get(f"/api/reports/agents?{RANGE}")).json()
    assert {row["key"] for row in body["rows"]} == {f.op1, f.op2}
    assert body["from"] == "2026-11-10" and body["breakdown"] == "agent"
    olga = next(row for row in body["rows"] if row["key"] == f.op1)
    assert (olga["calls_handled"], olga["promised"], olga["collected"]) == (3, "300.00", "150.00")
    outside = await client.get(f"/api/reports/agents?{RANGE}&agent_id={f.op3}")
    assert outside.status == 403
    assert (await client.get(f"/api/reports/agents?{RANGE}&team_id={f.admin}")).status == 403
    assert (await client.get(f"/api/reports/calls?{RANGE}&agent_id={f.op3}")).status == 403
    calls = await (await client.get(f"/api/reports/calls?{RANGE}")).json()
    assert [c["id"] for c in calls["calls"]] == [f.calls["i1"], f.calls["i6"], f.calls["i2"]]
    assert calls["calls"][0]["recording_url"] == f"/api/recordings/{f.recording_i1}/audio"
    assert "/var/spool" not in str(calls)
    collections = await (await client.get(f"/api/reports/collections?{RANGE}")).json()
    assert "paid" not in collections["totals"]
    queues = await (await client.get(f"/api/reports/queues?{RANGE}")).json()
    assert queues["totals"]["offered"] == 6  # queues are center-wide

    await client.post("/logout", headers={"X-CSRF-Token": await _csrf(client)})
    await as_user(client, sign_in, "admin")
    body = await (await client.get(f"/api/reports/agents?{RANGE}&breakdown=team")).json()
    assert {row["label"] for row in body["rows"]} == {"Sveta", "(no team)"}
    calls = await (await client.get(f"/api/reports/calls?{RANGE}&per_page=2")).json()
    assert len(calls["calls"]) == 2 and calls["more"] is True
    campaigns = await (await client.get(f"/api/reports/campaigns?{RANGE}")).json()
    autumn = next(row for row in campaigns["rows"] if row["label"] == "Autumn")
    assert (autumn["attempts"], autumn["not_dialled"], autumn["over_limit"]) == (6, 1, True)


async def _csrf(client: TestClient) -> str:
    import re

    page = await (await client.get("/")).text()
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    "query",
    [
        "agents?from=2026-13-01",
        "agents?from=2026-11-12&to=2026-11-11",
        "agents?from=2024-01-01&to=2026-11-11",
        "agents?breakdown=week",
        "agents?agent_id=abc",
        "queues?interval=20",
        "queues?queue=" + "q" * 101,
        "calls?per_page=501",
        "calls?page=0",
        "calls?direction=sideways",
        "campaigns?campaign_id=-1",
    ],
)
async def test_bad_parameters_are_refused_with_the_reason(served, sign_in, query):
    await as_user(served.client, sign_in, "admin")
    response = await served.client.get(f"/api/reports/{query}")
    assert response.status in (400, 422), await response.text()
    assert (await response.json())["error"]["code"] == "invalid_input"


async def test_csv_exports_are_streamed_neutralised_and_audited(served, sign_in):
    client, f = served.client, served.floor
    await as_user(client, sign_in, "admin")
    response = await client.get(f"/api/reports/calls?{RANGE}&format=csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "callboard-calls-2026-11-10-2026-11-11.csv" in response.headers["Content-Disposition"]
    assert "Content-Length" not in response.headers  # streamed
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:4] == ["Call", "Started", "Direction", "Number"]
    assert len(rows) == 7
    i1 = next(r for r in rows if r[0] == str(f.calls["i1"]))
    assert i1[3].startswith("'=")  # the formula is shown as text, never run
    async with served.db.session() as s:
        entry = (
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "export_calls"))
        ).one()
    assert entry.user_id == f.admin and entry.detail["range"] == ["2026-11-10", "2026-11-11"]

    for name in ("agents", "queues", "campaigns", "collections"):
        response = await client.get(f"/api/reports/{name}?{RANGE}&format=csv")
        assert response.status == 200, name
        table = list(csv.reader(io.StringIO(await response.text())))
        assert table[-1][0] == "Total", name
    queues = list(
        csv.reader(
            io.StringIO(await (await client.get(f"/api/reports/queues?{RANGE}&format=csv")).text())
        )
    )
    billing = next(r for r in queues if r[0] == "billing")
    assert billing[queues[0].index("Service level")] == "0.25"


async def test_the_page_draws_the_table_and_the_chart(served, sign_in):
    client, f = served.client, served.floor
    await as_user(client, sign_in, "sup")
    page = await client.get(f"/reports?report=agents&{RANGE}")
    assert page.status == 200
    html = await page.text()
    assert 'id="report-table"' in html and "<svg" in html and 'class="bar s0"' in html
    assert "Olga" in html and "Zoya" not in html
    assert "format=csv" in html
    calls = await (await client.get(f"/reports?report=calls&{RANGE}")).text()
    assert f"/api/recordings/{f.recording_i1}/audio" in calls and "/var/spool" not in calls
    bad = await client.get("/reports?report=queues&from=nonsense")
    assert bad.status == 422 and 'id="report-error"' in await bad.text()
    for name in ("queues", "campaigns", "collections"):
        assert (await client.get(f"/reports?report={name}&{RANGE}")).status == 200, name


SUMMER = "from=2026-06-01&to=2026-08-31"


async def test_liquidation_over_http(served, sign_in):
    client = served.client
    await build_book(served.db, served.floor)
    await as_user(client, sign_in, "op1")
    assert (await client.get(f"/api/reports/liquidation?{SUMMER}")).status == 403
    await client.post("/logout", headers={"X-CSRF-Token": await _csrf(client)})
    await as_user(client, sign_in, "admin")
    # collections to today (11 Nov): June reached month 6, July month 5
    body = await (await client.get(f"/api/reports/liquidation?{SUMMER}&months=4")).json()
    assert (body["report"], body["from"], body["notes"]["as_of"]) == (
        "liquidation", "2026-06-01", "2026-11-11",
    )  # fmt: skip
    assert [row["key"] for row in body["rows"]] == ["2026-06", "2026-07"]
    june = body["rows"][0]
    assert (june["placed"], june["m1"], june["m2"], june["m4"]) == ("2000.00", 0.05, 0.3, 0.375)
    assert body["rows"][1]["m4"] == 1.0 and body["totals"]["placed"] == "2500.00"
    fab = await (await client.get(f"/api/reports/liquidation?{SUMMER}&creditor=Fabrikam")).json()
    assert fab["rows"][0]["placed"] == "1000.00" and len(fab["columns"]) == 4 + 12
    response = await client.get(f"/api/reports/liquidation?{SUMMER}&months=4&format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][-1] == "Month 4" and rows[1][0] == "2026-06" and rows[-1][0] == "Total"
    assert (await client.get(f"/api/reports/liquidation?{SUMMER}&months=0")).status == 422
    default = await (await client.get("/api/reports/liquidation")).json()
    assert (default["from"], default["to"]) == ("2025-12-01", "2026-11-11")
    await client.post("/logout", headers={"X-CSRF-Token": await _csrf(client)})
    await as_user(client, sign_in, "sup")
    mine = await (await client.get(f"/api/reports/liquidation?{SUMMER}")).json()
    assert [row["key"] for row in mine["rows"]] == ["2026-06"]  # op1's L1 only
    assert mine["totals"]["placed"] == "1000.00"
    page = await client.get(f"/reports?report=liquidation&{SUMMER}&months=3")
    html = await page.text()
    assert page.status == 200 and 'id="report-table"' in html and "Month 3" in html
    assert 'class="bar s0"' in html and "30.0%" in html


async def test_roll_rates_over_http(served, sign_in):
    client = served.client
    await build_book(served.db, served.floor)
    await as_user(client, sign_in, "op1")
    assert (await client.get("/api/reports/roll-rates")).status == 403
    await client.post("/logout", headers={"X-CSRF-Token": await _csrf(client)})
    await as_user(client, sign_in, "admin")
    query = "from=2026-07-01&to=2026-08-31"
    body = await (await client.get(f"/api/reports/roll-rates?{query}")).json()
    assert (body["report"], body["breakdown"]) == ("roll-rates", "bucket")
    assert [row["key"] for row in body["rows"]] == ["current", "1-30", "61-90", "91-180"]
    assert (body["totals"]["debts"], body["totals"]["balance"]) == (8, "4650.00")
    assert body["rows"][2]["paid_off_rate"] == 1.0
    monthly = await (await client.get(f"/api/reports/roll-rates?{query}&breakdown=month")).json()
    assert monthly["rows"][-1]["key"] == "2026-08/1-30"
    assert (await client.get(f"/api/reports/roll-rates?{query}&breakdown=week")).status == 422
    default = await (await client.get("/api/reports/roll-rates")).json()
    assert (default["from"], default["to"]) == ("2026-10-01", "2026-10-31")
    response = await client.get(f"/api/reports/roll-rates?{query}&format=csv")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:3] == ["From bucket", "Debts", "Balance"] and rows[-1][:3] == [
        "Total", "8", "4650.00",
    ]  # fmt: skip
    await client.post("/logout", headers={"X-CSRF-Token": await _csrf(client)})
    await as_user(client, sign_in, "sup")
    mine = await (await client.get(f"/api/reports/roll-rates?{query}")).json()
    assert mine["totals"]["balance"] == "2400.00"  # op1's L1 and R1
    page = await client.get(f"/reports?report=roll-rates&{query}")
    html = await page.text()
    assert page.status == 200 and "Rolled forward" in html and 'class="bar s0"' in html
