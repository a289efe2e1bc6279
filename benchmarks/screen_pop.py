"""Screen pop under load: N signed-in operators on websockets, offers at R calls/s.

The server (the real agent_desktop app, SQLite, in-process bus) runs in a separate process; the
client process holds N operator websockets and measures, for each offer, the time from
AgentOffered being published to the card arriving on that operator's socket.
Sources of the offers (`--source`):
  bus  the server's driver looks the caller's card up (crm_core.lookup) and publishes
       AgentOffered on the bus, as routing does; lookup times are reported beside.
  pbx  real calls: pbx_sim in its own process, callers put on hold and queued through the AMI
       link (ami_bridge) into routing's AcdService, which looks the card up, publishes the
       offer and rings the agent's phone in pbx_sim.
Baseline, same run: a timestamp pushed straight into the same sockets (no bus, no card).
Server CPU and memory are read from /proc for the server process during the measured phase.
Target: pop p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web
from sqlalchemy import select

from agent_desktop.acd_adapter import RoutingAgentControl
from agent_desktop.app import create_app
from agent_desktop.keys import HUB, SESSIONS, DesktopDeps
from agent_desktop.principal import Principal
from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import DialplanTarget, OriginateRequest
from benchmarks.figures import percentile
from callboard.schema import metadata
from crm_core.bus import InProcessBus
from crm_core.clock import SystemClock
from crm_core.config import Settings
from crm_core.db import Database
from crm_core.lookup import lookup_by_phone
from crm_core.models import Contact, ContactPhone, Debt, Phone, Role, User
from routing.acd import Acd
from routing.events import AgentOffered
from routing.queues import QueueConfig
from routing.service import AcdService

TARGET_P99_MS = 50.0
REPO = Path(__file__).resolve().parents[1]


def number_of(i: int) -> str:
    return f"+4479111{i:05d}"


# ---- server process --------------------------------------------------------------------------


async def seed(db: Database, operators: int) -> list[User]:
    now = datetime.now(UTC)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata().create_all)
    async with db.session() as s:
        users = [
            User(
                username=f"op{i}",
                full_name=f"Operator {i}",
                role=Role.OPERATOR,
                password_hash="scrypt$unused-in-benchmark",
                endpoint=f"Local/agent{i + 1}@cb-agents",
                created_at=now,
            )
            for i in range(operators)
        ]
        s.add_all(users)
        for i in range(operators):
            contact = Contact(
                first_name="Debtor",
                last_name=str(i),
                created_at=now,
                updated_at=now,
                timezone="Europe/London",
            )
            phone = Phone(e164=number_of(i), raw=number_of(i))
            s.add_all([contact, phone])
            await s.flush()
            s.add(ContactPhone(contact_id=contact.id, phone_id=phone.id, is_primary=True))
            s.add(
                Debt(
                    contact_id=contact.id,
                    creditor="Bank",
                    reference=f"R-{i}",
                    principal=Decimal("1000.00"),
                    balance=Decimal("750.00"),
                    due_date=date(2026, 6, 1),
                    created_at=now,
                )
            )
        await s.commit()
    return users


async def serve(operators: int, ami_port: int | None) -> None:
    """Runs the app; prints one JSON line (port, cookies); then obeys commands on stdin.

    With `ami_port`, the offers come from real calls: an AMI bridge to pbx_sim and routing's
    AcdService run in this process, every operator is logged in to the ACD, and each call is
    a caller put on hold in pbx_sim and queued; the ACD offers it (card pop) and rings."""
    directory = tempfile.mkdtemp(prefix="cb-screen-pop-")
    db = await Database.open(f"sqlite+aiosqlite:///{directory}/bench.db")
    users = await seed(db, operators)
    bus = InProcessBus()
    clock = SystemClock()
    pbx: Pbx | None = None
    if ami_port is not None:
        pbx = await Pbx.start(ami_port, db, bus, clock, users)
    app = create_app(
        DesktopDeps(
            db=db,
            bus=bus,
            settings=Settings(),
            clock=clock,
            acd=pbx.control if pbx else None,
            switch=pbx.bridge.switch if pbx else None,
        )
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cookies = []
    for user in users:
        _session, cookie = app[SESSIONS].create(Principal.of(user), "127.0.0.1")
        cookies.append((str(user.id), cookie))
    print(json.dumps({"port": port, "cookies": cookies}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command = json.loads(line)
        if command["cmd"] == "stop":
            break
        rate, count, mode, tag = command["rate"], command["count"], command["mode"], command["tag"]
        if pbx is not None and mode == "offer":
            lookups = await pbx.calls(rate, count, tag)
        else:
            lookups = await publish(app, db, bus, users, rate, count, mode, tag)
        print(json.dumps({"done": tag, "lookups_ms": lookups}), flush=True)
    await runner.cleanup()
    if pbx is not None:
        await pbx.stop()
    await db.close()


@dataclass
class Pbx:
    """pbx_sim (in its own process) seen through the real bridge and ACD."""

    bridge: AmiBridge
    acd: AcdService
    control: RoutingAgentControl
    contacts: list[int]

    @classmethod
    async def start(cls, ami_port, db, bus, clock, users) -> Pbx:
        config = LinkConfig(
            port=ami_port, username="callboard", secret="cbsecret", action_timeout=10.0
        )
        bridge = AmiBridge(config, bus=bus, clock=clock, db=None)
        queue = QueueConfig(name="bench", wrap_up_s=1.0, ring_timeout_s=10.0)
        acd = AcdService(
            Acd(clock, [queue]),
            bus=bus,
            switch=bridge.switch,
            clock=clock,
            db=db,
            default_region="GB",
            card_timeout_s=2.0,
        )
        await bridge.start()
        await bridge.link.wait_up(10)
        await acd.start()
        for user in users:
            acd.login(str(user.id), user.endpoint, {})
        async with db.session() as s:
            contacts = list((await s.execute(select(Contact.id).order_by(Contact.id))).scalars())
        return cls(bridge, acd, RoutingAgentControl(acd, db), contacts)

    async def calls(self, rate: float, count: int, tag: str) -> list[float]:
        start = time.monotonic()
        tasks = []
        for n in range(count):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._call(f"{tag}-{n}", n)))
        await asyncio.gather(*tasks)
        return []

    async def _call(self, linkedid: str, n: int) -> None:
        """A caller on hold in cb-hold (trace 03), then queued as the IVR would queue it."""
        result = await self.bridge.switch.originate(
            OriginateRequest(
                endpoint=f"Local/{100 + n % 800}@cb-hold",
                target=DialplanTarget("caller-sim", "s", 1),
                caller_id=f'"Caller {n}" <{number_of(n % len(self.contacts))}>',
                variables={"HOLD_SECS": "30", "DTMF_DELAY": "0"},
                channel_id=linkedid,
            )
        )
        if not result.answered:
            return
        self.acd.enqueue(
            linkedid=linkedid,
            queue="bench",
            caller_channel=result.channel.removesuffix(";1") + ";2",
            caller_number=number_of(n % len(self.contacts)),
            contact_id=self.contacts[n % len(self.contacts)],
        )

    async def stop(self) -> None:
        await self.acd.stop()
        await self.bridge.stop()


async def publish(app, db, bus, users, rate, count, mode, tag) -> list[float]:
    """Each offer on its own task at its scheduled time, as routing rings agents. Returns the
    card lookup times (ms) of the `offer` mode."""
    start = time.monotonic()
    lookups: list[float] = []
    tasks = []
    for n in range(count):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        i = n % len(users)
        if mode == "floor":
            app[HUB].send_to_agent(
                str(users[i].id),
                {
                    "type": "offer",
                    "call": {
                        "offered_at": datetime.now(UTC).isoformat(),
                        "card": {"contact_id": i},
                    },
                },
            )
        else:
            tasks.append(asyncio.create_task(offer(db, bus, users, i, tag, n, lookups)))
    await asyncio.gather(*tasks)
    return lookups


async def offer(db, bus, users, i, tag, n, lookups) -> None:
    """What routing does for one offer: look the card up, then publish AgentOffered."""
    started = time.perf_counter()
    async with db.session() as s:
        found = await lookup_by_phone(s, number_of(i), "GB")
    lookups.append((time.perf_counter() - started) * 1000)
    bus.publish(
        AgentOffered(
            agent_id=str(users[i].id),
            linkedid=f"{tag}-{n}",
            queue="bench",
            caller_number=number_of(i),
            card=found.to_dict() if found else None,
            at=datetime.now(UTC),
        )
    )


# ---- client process --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def start_pbx_sim(operators: int) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pbx_sim",
        "--ami-port",
        str(port),
        "--agents",
        str(operators),
        "--talk-secs",
        "2",
        "4",
        "--ring-secs",
        "0.1",
        "0.3",
        "--no-answer",
        "0",
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return sim, port
    sim.kill()
    raise RuntimeError(f"pbx_sim did not listen on {port}")


async def run(operators: int, rate: float, seconds: float, source: str) -> dict[str, float]:
    extra: list[str] = []
    sim = None
    if source == "pbx":
        sim, ami_port = await start_pbx_sim(operators)
        extra = ["--ami-port", str(ami_port)]
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        "--operators",
        str(operators),
        *extra,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        limit=64 * 1024 * 1024,
    )
    assert server.stdin is not None and server.stdout is not None
    hello = json.loads(await server.stdout.readline())
    port = hello["port"]
    latencies: dict[str, list[float]] = {"floor": [], "offer": []}
    lookups: list[float] = []
    phase = {"name": "warmup"}
    connected = 0

    async def operator(session: aiohttp.ClientSession, ready: asyncio.Event) -> None:
        nonlocal connected
        async with session.ws_connect(
            f"http://127.0.0.1:{port}/ws?page=desk", headers={"Origin": f"http://127.0.0.1:{port}"}
        ) as ws:
            connected += 1
            if connected == operators:
                ready.set()
            async for message in ws:
                if '"type":"offer"' not in message.data:
                    continue
                arrived = datetime.now(UTC)
                offer = json.loads(message.data)["call"]
                sent = datetime.fromisoformat(offer["offered_at"])
                if phase["name"] in latencies and offer["card"]:
                    latencies[phase["name"]].append((arrived - sent).total_seconds() * 1000)

    ready = asyncio.Event()
    sessions = []
    tasks = []
    for user_id, cookie in hello["cookies"]:
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({"cb_session": cookie}, aiohttp.client.URL(f"http://127.0.0.1:{port}/"))
        session = aiohttp.ClientSession(cookie_jar=jar)
        sessions.append(session)
        tasks.append(asyncio.create_task(operator(session, ready), name=f"op-{user_id}"))
    await asyncio.wait_for(ready.wait(), 120)
    print(f"{operators} operators connected", flush=True)

    async def phase_run(name: str, count: int) -> tuple[float, float]:
        phase["name"] = name
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        command = {
            "cmd": "publish",
            "rate": rate,
            "count": count,
            "tag": name,
            "mode": "floor" if name == "floor" else "offer",
        }
        server.stdin.write((json.dumps(command) + "\n").encode())
        await server.stdin.drain()
        done = json.loads(await server.stdout.readline())
        if name == "offer":
            lookups.extend(done["lookups_ms"])
        await asyncio.sleep(0.3)  # the last cards in flight
        elapsed = time.monotonic() - t0
        return 100 * (cpu_seconds(server.pid) - cpu0) / elapsed, rss_mib(server.pid)

    count = int(rate * seconds)
    await phase_run("warmup", min(count, int(rate * 2)))
    await phase_run("floor", count)
    cpu, rss = await phase_run("offer", count)
    server.stdin.write(b'{"cmd": "stop"}\n')
    await server.stdin.drain()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for session in sessions:
        await session.close()
    await server.wait()
    if sim is not None:
        sim.terminate()
        await sim.wait()
    measured, baseline = latencies["offer"], latencies["floor"]
    return {
        "operators": operators,
        "rate_per_s": rate,
        "offers": len(measured),
        "pop_p50_ms": round(statistics.median(measured), 2),
        "pop_p99_ms": round(percentile(measured, 99), 2),
        "pop_max_ms": round(max(measured), 2),
        "baseline_ws_floor_p50_ms": round(statistics.median(baseline), 2),
        "baseline_ws_floor_p99_ms": round(percentile(baseline, 99), 2),
        "card_lookup_p50_ms": round(statistics.median(lookups), 2) if lookups else None,
        "card_lookup_p99_ms": round(percentile(lookups, 99), 2) if lookups else None,
        "server_cpu_pct": round(cpu, 1),
        "server_rss_mib": round(rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operators", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="50 operators, 20 calls/s, 5 s")
    parser.add_argument(
        "--source",
        choices=("bus", "pbx"),
        default="bus",
        help="bus: offers published at the bus (card looked up per offer); pbx: real calls in "
        "pbx_sim (its own process) through ami_bridge and routing's AcdService",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ami-port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.operators, args.ami_port))
        return
    if args.quick:
        args.operators, args.rate, args.seconds = 50, 20.0, 5.0
    print(f"screen pop: {args.operators} operators, {args.rate:g} offers/s for {args.seconds:g} s")
    if args.source == "bus":
        print("source: the bus publish point: the server looks each caller's card up and")
        print("        publishes routing's AgentOffered (no PBX involved)")
    else:
        print("source: pbx_sim calls (own process) -> AMI -> ami_bridge -> routing AcdService")
        print("        (card lookup, AgentOffered, agent rung) -> hub -> websocket")
    figures = asyncio.run(run(args.operators, args.rate, args.seconds, args.source))
    print(
        f"pop (AgentOffered published -> card in the operator's websocket): "
        f"p50 {figures['pop_p50_ms']} ms, p99 {figures['pop_p99_ms']} ms, "
        f"max {figures['pop_max_ms']} ms over {figures['offers']} offers "
        f"(target p99 <= {TARGET_P99_MS:g} ms)"
    )
    if figures["card_lookup_p50_ms"] is not None:
        print(
            f"card lookup before the offer (crm_core.lookup, SQLite): "
            f"p50 {figures['card_lookup_p50_ms']} ms, p99 {figures['card_lookup_p99_ms']} ms"
        )
    print(
        "baseline (a timestamp pushed straight into the same sockets, no bus, no card): "
        f"p50 {figures['baseline_ws_floor_p50_ms']} ms, "
        f"p99 {figures['baseline_ws_floor_p99_ms']} ms"
    )
    print(
        f"server: {figures['server_cpu_pct']}% CPU, {figures['server_rss_mib']} MiB RSS; "
        f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    figures["target_met"] = figures["pop_p99_ms"] <= TARGET_P99_MS
    figures["source"] = args.source
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
