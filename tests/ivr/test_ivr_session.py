"""Calls through the FastAGI server into the IVR, with a real SQLite database behind crm_core."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from crm_core.clock import ManualClock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import Contact, ContactPhone, Debt, Interaction, Phone, Role, Task, User
from ivr.crm import CrmCallbackDesk, CrmDirectory, CrmJournal
from ivr.library import FlowLibrary
from ivr.ports import HandoffRefused, QueuedCall
from ivr.server import FastAgiServer
from ivr.service import IvrService
from ivr.session import IvrCallHandler, SafeDefault

FLOWS = Path(__file__).resolve().parents[2] / "ivr" / "flows"
OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
CLOSED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Sunday 21:00 in New York


class CollectingHandoff:
    """The queue hand-off port, in memory: what the ACD would have been given."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.calls: list[QueuedCall] = []
        self.refuse = refuse

    async def enqueue(self, call: QueuedCall) -> None:
        if call.queue in self.refuse:
            raise HandoffRefused(f"no queue {call.queue!r}")
        self.calls.append(call)


async def seed(db: Database) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with db.session() as s:
        agent = User(username="agent7", role=Role.OPERATOR, password_hash="-", created_at=now)
        ivan = Contact(
            first_name="Ivan", last_name="Petrov", language="ru", created_at=now, updated_at=now
        )
        mary = Contact(
            first_name="Mary",
            last_name="Known",
            language="en",
            vip=True,
            created_at=now,
            updated_at=now,
        )
        s.add_all([agent, ivan, mary])
        await s.flush()
        phone = Phone(e164="+12025550123", raw="2025550123")
        s.add(phone)
        await s.flush()
        s.add(ContactPhone(contact_id=mary.id, phone_id=phone.id, is_primary=True))
        s.add(
            Debt(
                contact_id=ivan.id,
                creditor="Acme Bank",
                reference="12345678",
                principal=Decimal("15000"),
                balance=Decimal("12500.00"),
                due_date=date(2026, 1, 1),
                created_at=now,
                assigned_agent_id=agent.id,
            )
        )
        s.add(
            Debt(
                contact_id=mary.id,
                creditor="Acme Bank",
                reference="55550000",
                principal=Decimal("300"),
                balance=Decimal("300.00"),
                due_date=date(2026, 1, 1),
                created_at=now,
            )
        )
        await s.commit()


class Ivr:
    """The IVR as the composition root wires it, on a free port."""

    def __init__(
        self, db: Database, flows: Path, clock: ManualClock, handoff: CollectingHandoff
    ) -> None:
        self.library = FlowLibrary(flows)
        self.library.reload()
        self.handoff = handoff
        self.handler = IvrCallHandler(
            library=self.library,
            directory=CrmDirectory(db, clock),
            handoff=handoff,
            callbacks=CrmCallbackDesk(db, clock),
            journal=CrmJournal(InteractionLog(db)),
            clock=clock,
            safe_default=SafeDefault("general", 5),
        )
        self.server = FastAgiServer(self.handler, port=0)


@pytest.fixture
async def ivr(sqlite_db: Database, tmp_path: Path):
    await seed(sqlite_db)
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    ivr = Ivr(sqlite_db, flows, ManualClock(OPEN), CollectingHandoff())
    await ivr.server.start()
    yield ivr
    await ivr.server.close()


async def interaction(db: Database, linkedid: str) -> Interaction:
    async with db.session() as s:
        row = await s.scalar(select(Interaction).where(Interaction.linkedid == linkedid))
    assert row is not None
    return row


async def test_account_entry_lookup_and_queue(
    ivr: Ivr, sqlite_db: Database, scripted_asterisk
) -> None:
    caller = scripted_asterisk(number="2025550199", keys=["2", "12345678#"])
    commands = await caller.call(ivr.server.port)
    assert commands[:3] == ["GET VARIABLE CHANNEL(linkedid)", "ANSWER", 'STREAM FILE cb-welcome ""']
    assert "GET DATA cb-choose-language 5000 1" in commands
    assert 'SET VARIABLE CHANNEL(language) "ru"' in commands
    assert "GET DATA cb-enter-account 8000 11" in commands
    assert caller.variables["CB_QUEUE"] == "collections"
    assert caller.variables["CB_PRIORITY"] == "30"
    [queued] = ivr.handoff.calls
    assert queued.linkedid == "1795445332.0"
    assert queued.channel == "Local/100@cb-inbound-00000000;2"
    assert queued.skills == {"collections": 50, "lang_ru": 1}
    assert queued.preferred_agent == "1"  # agent7's user id: how routing knows agents
    assert caller.variables["CB_CONTACT"] == str(queued.contact_id)
    row = await interaction(sqlite_db, "1795445332.0")
    assert row.ivr_path == [
        "greeting",
        "known_caller:not_found",
        "language=2",
        "russian",
        "account=****5678",
        "account_lookup:found",
        "hours=yes",
        "repeat_caller=no",
        "vip=no",
        "high_balance=yes",
        "queue_high:collections",
    ]
    assert row.ivr_digits == "2 ****5678"
    assert "12345678" not in str(row.ivr_path) + row.ivr_digits
    assert row.contact_id == queued.contact_id and row.queue == "collections"
    assert row.caller_number == "2025550199"
    assert row.transitions[-1]["what"] == "ivr_queued"


async def test_flows_can_branch_on_the_number_dialled(
    sqlite_db: Database, tmp_path: Path, scripted_asterisk
) -> None:
    (tmp_path / "inbound.toml").write_text(
        '[flow]\nstart = "which"\ndefault_queue = "general"\n'
        '[nodes.which]\ntype = "condition"\nvariable = "did"\nequals = "100"\n'
        'then = "sales"\nelse = "bye"\n'
        '[nodes.sales]\ntype = "queue"\nqueue = "sales_{did}"\n'
        '[nodes.bye]\ntype = "hangup"\n'
    )
    ivr = Ivr(sqlite_db, tmp_path, ManualClock(OPEN), CollectingHandoff())
    await ivr.server.start()
    try:
        await scripted_asterisk().call(ivr.server.port)
    finally:
        await ivr.server.close()
    assert [c.queue for c in ivr.handoff.calls] == ["sales_100"]


async def test_known_caller_is_recognised_by_number(ivr: Ivr, scripted_asterisk) -> None:
    caller = scripted_asterisk(number="2025550123")
    commands = await caller.call(ivr.server.port)
    assert not [c for c in commands if c.startswith("GET DATA")]
    [queued] = ivr.handoff.calls
    assert (queued.queue, queued.priority, queued.skills) == (
        "collections",
        50,
        {"collections": 70, "lang_en": 1},
    )


async def test_caller_hangs_up_mid_prompt(ivr: Ivr, sqlite_db: Database, scripted_asterisk) -> None:
    caller = scripted_asterisk(number="2025550199", keys=["HANGUP"])
    commands = await caller.call(ivr.server.port)
    assert commands[-1] == "GET DATA cb-choose-language 5000 1"  # nothing sent after; closed
    assert ivr.handoff.calls == [] and "CB_QUEUE" not in caller.variables
    row = await interaction(sqlite_db, "1795445332.0")
    assert row.ivr_path[-2:] == ["known_caller:not_found", "caller_hung_up"]
    assert row.transitions[-1]["what"] == "ivr_caller_hung_up"


async def test_hang_up_during_a_played_prompt(ivr: Ivr, scripted_asterisk) -> None:
    caller = scripted_asterisk(number="2025550199", hang_up_on_prompt="cb-welcome")
    commands = await caller.call(ivr.server.port)
    assert commands == ["GET VARIABLE CHANNEL(linkedid)", "ANSWER", 'STREAM FILE cb-welcome ""']


async def test_closed_hours_callback_creates_a_task(
    ivr: Ivr, sqlite_db: Database, scripted_asterisk
) -> None:
    ivr_clock = ManualClock(CLOSED)
    ivr_closed = Ivr(sqlite_db, ivr.library.directory, ivr_clock, CollectingHandoff())
    await ivr_closed.server.start()
    try:
        caller = scripted_asterisk(number="2025550199", keys=["1", "12345678#", "1"])
        commands = await caller.call(ivr_closed.server.port)
    finally:
        await ivr_closed.server.close()
    assert commands[-2:] == ['STREAM FILE cb-goodbye ""', "HANGUP"]
    assert ivr_closed.handoff.calls == []
    async with sqlite_db.session() as s:
        [task] = (await s.scalars(select(Task))).all()
    assert (task.owner_queue, task.phone_e164) == ("collections", "+12025550199")
    assert task.contact_id is not None
    row = await interaction(sqlite_db, "1795445332.0")
    assert "hours=no" in row.ivr_path and row.transitions[-1]["what"] == "ivr_callback"


async def test_broken_flow_file_still_reaches_the_safe_default_queue(
    sqlite_db: Database, tmp_path: Path, scripted_asterisk, caplog
) -> None:
    (tmp_path / "inbound.toml").write_text('[flow]\nstart = "nowhere"\n')
    ivr = Ivr(sqlite_db, tmp_path, ManualClock(OPEN), CollectingHandoff())
    assert list(ivr.library.errors) == [str(tmp_path / "inbound.toml")]
    await ivr.server.start()
    try:
        caller = scripted_asterisk()
        await caller.call(ivr.server.port)
    finally:
        await ivr.server.close()
    assert caller.variables["CB_QUEUE"] == "general"
    assert [c.queue for c in ivr.handoff.calls] == ["general"]
    row = await interaction(sqlite_db, "1795445332.0")
    assert row.ivr_path == ["flow_unavailable:inbound", "default:general"]
    assert "inbound.toml:1: [flow]: 'default_queue' is required" in caplog.text


async def test_refused_queue_falls_back_to_the_safe_default(
    sqlite_db: Database, ivr: Ivr, scripted_asterisk
) -> None:
    ivr.handoff.refuse = frozenset({"collections"})
    caller = scripted_asterisk(number="2025550123")
    await caller.call(ivr.server.port)
    assert [c.queue for c in ivr.handoff.calls] == ["general"]
    assert caller.variables["CB_QUEUE"] == "general"
    row = await interaction(sqlite_db, "1795445332.0")
    assert row.ivr_path[-2:] == ["queue_vip:collections", "default:general"]


async def test_reload_keeps_running_calls_on_their_version(ivr: Ivr, scripted_asterisk) -> None:
    flow_file = ivr.library.directory / "inbound.toml"
    first = scripted_asterisk(number="2025550199", linkedid="call-1")
    running = asyncio.create_task(first.call(ivr.server.port))
    async with asyncio.timeout(20):
        await first.waiting_for_keys.wait()  # at the language menu, then at the account prompt
        first.waiting_for_keys.clear()
        first.keys.put_nowait("1")  # English
        await first.waiting_for_keys.wait()
    assert first.commands[-1] == "GET DATA cb-enter-account 8000 11"
    text = flow_file.read_text().replace(
        'prompt = "cb-enter-account"', 'prompt = "cb-enter-account-v2"'
    )
    flow_file.write_text(text)
    os.utime(flow_file, ns=(1, 2_000_000_000_000_000_000))
    report = await ivr.library.reload_async()
    assert report.loaded == ("inbound",)
    first.keys.put_nowait("12345678#")
    await running
    assert [c for c in first.commands if "cb-enter-account" in c] == [
        "GET DATA cb-enter-account 8000 11"
    ]
    second = scripted_asterisk(number="2025550199", linkedid="call-2", keys=["1", "12345678#"])
    await second.call(ivr.server.port)
    assert "GET DATA cb-enter-account-v2 8000 11" in second.commands


async def test_no_input_anywhere_still_reaches_an_operator(
    ivr: Ivr, sqlite_db: Database, scripted_asterisk
) -> None:
    caller = scripted_asterisk(number="2025550199", keys=[""] * 6)
    commands = await caller.call(ivr.server.port)
    assert commands.count("GET DATA cb-choose-language 5000 1") == 3
    assert commands.count("GET DATA cb-enter-account 8000 11") == 3
    assert commands.count('STREAM FILE cb-no-input ""') == 2
    assert [c.queue for c in ivr.handoff.calls] == ["collections"]
    row = await interaction(sqlite_db, "1795445332.0")
    assert row.ivr_path.count("account:timeout") == 3
    assert row.ivr_digits == ""


async def test_silent_asterisk_times_out_and_the_socket_is_closed(
    sqlite_db: Database, ivr: Ivr, scripted_asterisk
) -> None:
    server = FastAgiServer(ivr.handler, port=0, reply_timeout=0.2)
    await server.start()
    try:
        caller = scripted_asterisk()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(caller.request())
        assert await reader.readline() == b"GET VARIABLE CHANNEL(linkedid)\n"
        writer.write(b"200 result=1 (silent-1)\n")
        assert await reader.readline() == b"ANSWER\n"  # ... and Asterisk never answers
        assert await asyncio.wait_for(reader.read(), 20) == b""
        writer.close()
        await writer.wait_closed()
    finally:
        await server.close()
    row = await interaction(sqlite_db, "silent-1")
    assert row.ivr_path == ["agi_failed"]
    assert row.transitions[-1]["what"] == "ivr_failed"


async def test_garbage_instead_of_a_request_is_dropped(ivr: Ivr) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", ivr.server.port)
    writer.write(b"GET / HTTP/1.1\nHost: x\n\n")
    assert await asyncio.wait_for(reader.read(), 20) == b""
    writer.close()
    await writer.wait_closed()
    assert ivr.handoff.calls == []


async def test_service_polls_for_changes_and_stops_cleanly(
    sqlite_db: Database, tmp_path: Path
) -> None:
    shutil.copy(FLOWS / "inbound.toml", tmp_path / "inbound.toml")
    clock = ManualClock(OPEN)
    service = IvrService(
        flows=tmp_path,
        directory=CrmDirectory(sqlite_db, clock),
        handoff=CollectingHandoff(),
        callbacks=CrmCallbackDesk(sqlite_db, clock),
        journal=CrmJournal(InteractionLog(sqlite_db)),
        clock=clock,
        safe_default=SafeDefault(),
        port=0,
        poll_interval=0.02,
    )
    report = await service.start()
    assert report.loaded == ("inbound",)
    before = service.library.get("inbound")
    assert before is not None
    (tmp_path / "inbound.toml").write_text(
        (tmp_path / "inbound.toml").read_text().replace("priority = 50", "priority = 60")
    )
    os.utime(tmp_path / "inbound.toml", ns=(1, 3 * 10**18))
    async with asyncio.timeout(20):
        while service.library.get("inbound") is before:  # noqa: ASYNC110 - watching a poller
            await asyncio.sleep(0.01)
    await service.close()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_sighup_reloads_the_flows(sqlite_db: Database, tmp_path: Path) -> None:
    shutil.copy(FLOWS / "inbound.toml", tmp_path / "inbound.toml")
    clock = ManualClock(OPEN)
    service = IvrService(
        flows=tmp_path,
        directory=CrmDirectory(sqlite_db, clock),
        handoff=CollectingHandoff(),
        callbacks=CrmCallbackDesk(sqlite_db, clock),
        journal=CrmJournal(InteractionLog(sqlite_db)),
        clock=clock,
        safe_default=SafeDefault(),
        port=0,
        poll_interval=None,
    )
    await service.start()
    service.reload_on_sighup()
    try:
        shutil.copy(FLOWS / "inbound.toml", tmp_path / "second.toml")
        (tmp_path / "second.toml").write_text(
            (tmp_path / "second.toml").read_text().replace("[flow]", '[flow]\nname = "second"')
        )
        os.kill(os.getpid(), signal.SIGHUP)
        async with asyncio.timeout(20):
            while service.library.get("second") is None:  # noqa: ASYNC110 - signal, then thread
                await asyncio.sleep(0.01)
    finally:
        await service.close()
    assert service.library.names == ["inbound", "second"]


async def test_storage_failures_do_not_strand_the_caller(
    ivr: Ivr, sqlite_db: Database, scripted_asterisk
) -> None:
    """Lookups and the callback fail on a broken database; the caller still reaches a queue."""
    async with sqlite_db.session() as s:
        await s.execute(text("DROP TABLE contact_phones"))
        await s.execute(text("DROP TABLE tasks"))
        await s.commit()
    closed = Ivr(sqlite_db, ivr.library.directory, ManualClock(CLOSED), CollectingHandoff())
    await closed.server.start()
    try:
        caller = scripted_asterisk(number="2025550199", keys=["1", "12345678#", "1"])
        await caller.call(closed.server.port)
    finally:
        await closed.server.close()
    assert [c.queue for c in closed.handoff.calls] == ["collections"]
    row = await interaction(sqlite_db, "1795445332.0")
    assert row.ivr_path[:2] == ["greeting", "lookup_failed"]
    assert row.ivr_path[-2:] == ["callback", "default:callback_failed"]


async def test_too_long_account_number_is_refused_not_truncated(
    ivr: Ivr, sqlite_db: Database, scripted_asterisk
) -> None:
    # 11 digits fill GET DATA's max of 11 (max_length 10 + 1); then a proper entry.
    caller = scripted_asterisk(number="2025550199", keys=["1", "12345678901", "12345678#"])
    commands = await caller.call(ivr.server.port)
    assert commands.count("GET DATA cb-enter-account 8000 11") == 2
    assert 'STREAM FILE cb-invalid-account ""' in commands
    row = await interaction(sqlite_db, "1795445332.0")
    assert row.ivr_path[4:7] == [
        "account:too_long:*******8901",
        "account=****5678",
        "account_lookup:found",
    ]
    assert "12345678901" not in str(row.ivr_path)
