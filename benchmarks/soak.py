"""Soak: does a node that runs for weeks stop growing? The whole node, as `callboard serve` wires
it (callboard.node.start_node: AMI bridge, ACD, IVR, recordings, web desktop, SQLite in WAL
mode), against pbx_sim at `--rate` calls/s with simulated operators, for `--minutes` of real time.

Three processes besides this one, so that no process's memory is counted for another's:
  loaded node  start_node against pbx_sim; `--operators` simulated operators are logged in (the
               ACD makes them ready again after a 1 s wrap-up) and their phones, in pbx_sim,
               ring 0.3-0.8 s and talk 1.5-4 s; callers arrive as a Poisson stream (70% known
               numbers, 30% unknown numbers that choose a language and key in an account).
  idle node    the same node, seeded the same, with the same operators logged in, against its
               own pbx_sim that places no calls: the baseline. It runs at the same time as the
               loaded node (interleaved in real time), so both see the same machine.
  pbx_sim      both simulated PBXes, in one process of their own.
Every `--sample-s` (30 s) each node reports its RSS, open file descriptors, asyncio task count,
bus subscription queue depths, the SQLite database + WAL size, and the tracker's and the ACD's
live entries. Growth is measured after a warm-up (5 minutes, or a sixth of a shorter run) to the
end, and is printed per 10,000 calls (RSS: last sample minus the first after warm-up, and a
least-squares slope; fds and tasks, which come and go with the calls in flight: the fewest in
the last quarter of the samples minus the fewest in the first quarter). The idle node's growth
is printed beside it as absolute figures and scaled by the loaded node's call count (what that
much growth would count as per 10,000 calls of the loaded run). A bus depth that keeps rising
means the node cannot keep up with the rate on this machine: its growth is then backlog.
Target: RSS growth <= 2 MiB per 10,000 calls after warm-up, no growth in fds or tasks.

To find what grows (the loaded node only; both slow it down, so use a low --rate):
`--census FILE`   live Python objects by type at each sample; at the end, the growth by type
                  since warm-up and the largest containers with their holders.
`--tracemalloc FILE`  allocation growth by traceback between the end of warm-up and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import deque
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_RSS_MIB_PER_10K = 2.0
REPO = Path(__file__).resolve().parents[1]
FIRST_PHONE = 11  # operators' phones are agent11.., as in the demo


# ---- seeding ---------------------------------------------------------------------------------


async def seed(url: str, operators: int, contacts: int) -> dict[str, list[str]]:
    from sqlalchemy import select

    from callboard.migrate import upgrade_async
    from crm_core.auth import hash_password
    from crm_core.db import Database
    from crm_core.demo_data import load_demo_data
    from crm_core.models import Debt, Phone, QueueDefinition, Role, Skill, User, UserSkill

    await upgrade_async(url)
    db = await Database.open(url)
    try:
        await load_demo_data(db, contacts, seed=42)
        now = datetime.now(UTC)
        digest = hash_password("soak-operator-not-for-sign-in")
        async with db.session() as s:
            skills = [Skill(name=n) for n in ("collections", "lang_en", "lang_ru", "general")]
            users = [
                User(
                    username=f"soak{n:03d}",
                    full_name=f"Soak Operator {n}",
                    role=Role.OPERATOR,
                    password_hash=digest,
                    created_at=now,
                    endpoint=f"Local/agent{FIRST_PHONE + n}@cb-agents",
                    language="en",
                )
                for n in range(operators)
            ]
            s.add_all([*skills, *users])
            s.add(
                QueueDefinition(
                    name="collections",
                    required_skills=[{"skill": "collections", "min_level": 1}],
                    sl_target_pct=80,
                    sl_threshold_s=20,
                    max_wait_s=600,
                    overflow=[{"after_s": 30, "add_skill": "general"}],
                )
            )
            await s.flush()
            s.add_all(
                UserSkill(user_id=u.id, skill_id=k.id, level=80) for u in users for k in skills
            )
            await s.commit()
            numbers = list((await s.execute(select(Phone.e164).limit(400))).scalars())
            accounts = list((await s.execute(select(Debt.reference).limit(400))).scalars())
    finally:
        await db.close()
    return {"numbers": numbers, "accounts": accounts}


# ---- the node process ------------------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _sqlite_mib() -> float:
    """Memory SQLite itself holds (every connection's page cache, schemas, statements), from
    sqlite3_status64(SQLITE_STATUS_MEMORY_USED); 0 when the library cannot be reached."""
    import ctypes

    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return 0.0
    used, peak = ctypes.c_int64(), ctypes.c_int64()
    if lib.sqlite3_status64(0, ctypes.byref(used), ctypes.byref(peak), 0) != 0:
        return 0.0
    return used.value / 2**20


def _proc_rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def _db_bytes(path: Path) -> tuple[int, int]:
    def size(p: Path) -> int:
        try:
            return p.stat().st_size
        except FileNotFoundError:
            return 0

    return size(path), size(path.with_name(path.name + "-wal"))


async def node_main(args: argparse.Namespace) -> None:
    from agent_desktop.acd_adapter import RoutingAgentControl
    from ami_bridge.events import CallEnded
    from callboard.demo import DEMO_FLOWS
    from callboard.node import start_node
    from crm_core.bus import Overflow
    from crm_core.config import load_settings
    from crm_core.models import User

    if args.tracemalloc:
        tracemalloc.start(args.frames)
    db_path = Path(args.db)
    settings = load_settings(None, environ={})
    settings = replace(
        settings,
        database=replace(settings.database, url=f"sqlite+aiosqlite:///{db_path}"),
        center=replace(settings.center, default_region="US", timezone="America/New_York"),
        ami=replace(settings.ami, port=args.ami_port, username="callboard", secret="cbsecret"),
        agi=replace(
            settings.agi,
            port=args.agi_port,
            flows_dir=str(DEMO_FLOWS),
            default_queue="collections",
        ),
        web=replace(settings.web, port=args.web_port),
        routing=replace(settings.routing, wrap_up_s=1),
        recordings=replace(settings.recordings, directory=args.recordings),
    )
    stop = _stop_event()
    async with AsyncExitStack() as stack:
        node = await start_node(settings, stack)
        from sqlalchemy import select

        async with node.db.session() as s:
            agents = [
                str(i)
                for i in (
                    await s.execute(select(User.id).where(User.username.like("soak%")))
                ).scalars()
            ]
        control = RoutingAgentControl(node.acd, node.db)
        for agent in agents:
            await control.login(agent)
        ended = node.bus.subscribe(
            "soak-calls", CallEnded, maxsize=10_000, overflow=Overflow.DROP_OLDEST
        )
        calls = 0

        async def count() -> None:
            nonlocal calls
            async for _ in ended:
                calls += 1

        counter = asyncio.create_task(count(), name="soak-count")
        started = time.monotonic()
        snapshot = None
        census: list[tuple[float, dict[str, int], list[tuple[int, str]]]] = []
        while not stop.is_set():
            depths = {name: sub.pending() for name, sub in _subscriptions(node.bus).items()}
            db_size, wal_size = _db_bytes(db_path)
            gc.collect()
            sample = {
                "t": round(time.monotonic() - started, 1),
                "calls": calls,
                "rss_mib": round(_rss_mib(), 2),
                "sqlite_mib": round(_sqlite_mib(), 2),
                "fds": len(os.listdir("/proc/self/fd")),
                "tasks": len(asyncio.all_tasks()),
                "bus_depth_total": sum(depths.values()),
                "bus_depth_max": max(depths.values(), default=0),
                "bus_deepest": max(depths, key=depths.__getitem__, default=""),
                # per-call structures that must shrink back as calls end
                "tracker_linkedids": len(node.bridge.tracker.linkedids),
                "tracker_channels": node.bridge.tracker.channel_count,
                "acd_calls": len(node.acd.acd._calls),
                "db_bytes": db_size,
                "wal_bytes": wal_size,
            }
            if args.census:
                census.append(_census(holders=False))
            if args.tracemalloc:
                sample["traced_mib"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 2)
                if snapshot is None and sample["t"] >= args.warmup_s:
                    snapshot = tracemalloc.take_snapshot()
            print(json.dumps(sample), flush=True)
            try:
                await asyncio.wait_for(stop.wait(), args.sample_s)
            except TimeoutError:
                pass
        if args.tracemalloc:
            gc.collect()
            last = tracemalloc.take_snapshot()
            first = snapshot or last
            _write_growth(Path(args.tracemalloc), first, last)
        if args.census and census:
            census.append(_census(holders=True))
            _write_census(Path(args.census), census, args.warmup_s)
        counter.cancel()


def _census(*, holders: bool) -> tuple[float, dict[str, int], list[tuple[int, str]]]:
    """Live objects by type, and the largest containers with who holds them: what grows."""
    counts: dict[str, int] = {}
    big: list[tuple[int, str]] = []
    objects = gc.get_objects()
    for obj in objects:
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        counts[name] = counts.get(name, 0) + 1
        if holders and isinstance(obj, dict | list | set | deque) and len(obj) >= 200:
            big.append((len(obj), f"{name} held by {_holder(obj, skip=objects)}"))
    del objects
    big.sort(reverse=True)
    return time.monotonic(), counts, big[:30]


def _holder(obj: object, depth: int = 0, *, skip: object = None) -> str:
    """Who holds a container: an object's attribute, a module's global, a slot, or (one level
    up) the container holding it; with a sample of its items to recognise it."""
    sample = ""
    if depth == 0:
        items = list(obj.items())[:2] if isinstance(obj, dict) else list(obj)[:2]  # type: ignore[call-overload]
        sample = f"  e.g. {repr(items)[:160]}"
    for ref in gc.get_referrers(obj):
        if ref is skip:
            continue
        if isinstance(ref, dict):
            attr = next((k for k, v in ref.items() if v is obj), None)
            if attr is None:
                continue
            for owner in gc.get_referrers(ref):
                if getattr(owner, "__dict__", None) is ref:
                    return f"{type(owner).__module__}.{type(owner).__qualname__}.{attr}{sample}"
            if "__name__" in ref:
                return f"module {ref['__name__']}.{attr}{sample}"
        elif type(ref).__name__ in ("frame", "cell", "function", "generator", "coroutine"):
            continue
        elif hasattr(type(ref), "__slots__") and not isinstance(ref, list | tuple | dict | set):
            return f"{type(ref).__module__}.{type(ref).__qualname__} (slots){sample}"
        elif depth < 1 and isinstance(ref, list | tuple | dict | set) and ref is not obj:
            return f"in a {type(ref).__name__} held by {_holder(ref, depth + 1, skip=skip)}{sample}"
    return f"?{sample}"


def _write_census(
    path: Path, census: list[tuple[float, dict[str, int], list[tuple[int, str]]]], warmup: float
) -> None:
    start = census[0][0]
    first = next((c for c in census if c[0] - start >= warmup), census[0])
    last = census[-1]
    with path.open("w") as out:
        out.write(f"==== object count growth over {last[0] - first[0]:.0f} s after warm-up\n")
        growth = {k: v - first[1].get(k, 0) for k, v in last[1].items()}
        for name, n in sorted(growth.items(), key=lambda kv: -kv[1])[:40]:
            out.write(f"{n:+8d}  {name} ({last[1][name]})\n")
        out.write("==== largest containers at the end\n")
        for size, what in last[2]:
            out.write(f"{size:8d}  {what}\n")


def _stop_event() -> asyncio.Event:
    """Set on SIGTERM, or when the driver is gone (a child never outlives its soak)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    parent = os.getppid()

    def orphaned() -> None:
        if os.getppid() != parent:
            stop.set()
        else:
            loop.call_later(2.0, orphaned)

    loop.call_later(2.0, orphaned)
    return stop


def _subscriptions(bus: object) -> dict[str, object]:
    subs = getattr(bus, "_subscriptions", [])
    named: dict[str, object] = {}
    for sub in subs:
        name = sub.name
        while name in named:
            name += "'"
        named[name] = sub
    return named


def _write_growth(path: Path, first: tracemalloc.Snapshot, last: tracemalloc.Snapshot) -> None:
    keep = tracemalloc.Filter(False, tracemalloc.__file__)
    first, last = first.filter_traces([keep]), last.filter_traces([keep])
    with path.open("w") as out:
        for key in ("lineno", "traceback"):
            stats = last.compare_to(first, key)
            stats.sort(key=lambda s: s.size_diff, reverse=True)
            out.write(f"==== by {key}\n")
            for stat in stats[:40]:
                out.write(f"{stat.size_diff / 1024:+.1f} KiB  {stat.count_diff:+d} blocks\n")
                for line in stat.traceback.format()[-(30 if key == "traceback" else 2) :]:
                    out.write(f"    {line}\n")


# ---- the pbx_sim process ---------------------------------------------------------------------


async def sim_main(args: argparse.Namespace) -> None:
    from pbx_sim import AgentPhone, Caller, PbxSim, SimConfig, kit_user

    known = json.loads(Path(args.callers).read_text())  # noqa: ASYNC240  (read once, at start)
    numbers, accounts = known["numbers"], known["accounts"]
    sims = []
    for ami_port, agi_port in (
        (args.ami_port, args.agi_port),
        (args.idle_ami_port, args.idle_agi_port),
    ):
        sim = PbxSim(
            SimConfig(
                ami_port=ami_port,
                users={"callboard": kit_user("cbsecret")},
                agi_url=f"agi://127.0.0.1:{agi_port}/inbound",
                queues=(),
                history=500,  # the sim's own memory stays flat too
            )
        )
        for n in range(args.operators):
            sim.add_agent_phone(
                f"agent{FIRST_PHONE + n}",
                AgentPhone(ring_secs=(0.3, 0.8), talk_secs=(1.5, 4.0), no_answer=0.02),
            )
        await sim.start()
        sims.append(sim)
    loaded = sims[0]
    rng = random.Random(5)
    stop = _stop_event()
    print("ready", flush=True)
    # calls start once both nodes are up and their operators logged in: the driver says "go"
    await asyncio.to_thread(sys.stdin.readline)
    placed = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), rng.expovariate(args.rate))
            break
        except TimeoutError:
            pass
        if rng.random() < 0.7:
            caller = Caller(number=rng.choice(numbers), patience=rng.uniform(60, 120))
        else:
            account = (
                rng.choice(accounts) if rng.random() < 0.8 else f"{rng.randrange(10**7, 10**8)}"
            )
            caller = Caller(
                number=f"+1212555{rng.randrange(10000):04d}",
                digits=("", rng.choice("12"), f"{account}#"),
                patience=rng.uniform(60, 120),
            )
        loaded.place_inbound_call(caller)
        placed += 1
    for sim in sims:
        await sim.stop()


# ---- the driver ------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spawn(role: str, *extra: str) -> subprocess.Popen[bytes]:
    # unbuffered: a sample line is read as soon as it is written (select() sees the pipe only)
    return subprocess.Popen(
        [sys.executable, __file__, "--role", role, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
        cwd=REPO,
    )


def _floor(samples: list[dict], key: str, *, last: bool) -> int:
    quarter = max(1, len(samples) // 4)
    part = samples[-quarter:] if last else samples[:quarter]
    return min(s[key] for s in part)


def growth(samples: list[dict], warmup_s: float) -> dict[str, float]:
    after = [s for s in samples if s["t"] >= warmup_s] or samples[-1:]
    first, last = after[0], samples[-1]
    calls = last["calls"] - first["calls"]
    xs = [s["calls"] for s in after]
    ys = [s["rss_mib"] for s in after]
    slope = 0.0
    if len(after) >= 3 and max(xs) > min(xs):
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
    return {
        "minutes": (last["t"] - first["t"]) / 60,
        "calls": calls,
        "rss_start": first["rss_mib"],
        "rss_end": last["rss_mib"],
        "rss_growth": last["rss_mib"] - first["rss_mib"],
        "sqlite_growth": last.get("sqlite_mib", 0.0) - first.get("sqlite_mib", 0.0),
        "rss_slope_per_10k": slope * 10_000,
        # fds and tasks come and go with the calls in flight: the fewest seen in the last
        # quarter of the measured samples against the fewest in the first quarter
        "fd_growth": _floor(after, "fds", last=True) - _floor(after, "fds", last=False),
        "task_growth": _floor(after, "tasks", last=True) - _floor(after, "tasks", last=False),
        "bus_depth_max": max(s["bus_depth_max"] for s in after),
        "db_growth_mib": (last["db_bytes"] - first["db_bytes"]) / 2**20,
        "wal_end_mib": last["wal_bytes"] / 2**20,
        "sim_rss_growth": last.get("sim_rss_mib", 0.0) - first.get("sim_rss_mib", 0.0),
    }


def drive(args: argparse.Namespace) -> None:
    total_s = args.minutes * 60
    warmup_s = min(300.0, total_s / 6)
    work = Path(tempfile.mkdtemp(prefix="cb-soak-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        print(f"seeding two databases ({args.operators} operators) in {work} ...", flush=True)
        known = {}
        for name in ("loaded", "idle"):
            known = asyncio.run(seed(f"sqlite+aiosqlite:///{work / name}.db", args.operators, 500))
        (work / "callers.json").write_text(json.dumps(known))
        ports = {k: free_port() for k in ("ami", "agi", "web", "iami", "iagi", "iweb")}
        common = ("--sample-s", str(args.sample_s), "--warmup-s", str(warmup_s))
        sim = _spawn(
            "sim",
            *("--ami-port", str(ports["ami"]), "--agi-port", str(ports["agi"])),
            *("--idle-ami-port", str(ports["iami"]), "--idle-agi-port", str(ports["iagi"])),
            *("--rate", str(args.rate), "--operators", str(args.operators)),
            *("--callers", str(work / "callers.json")),
        )
        procs.append(sim)
        assert sim.stdout is not None
        sim.stdout.readline()
        nodes = {}
        for name, (ami, agi, web) in {
            "loaded": (ports["ami"], ports["agi"], ports["web"]),
            "idle": (ports["iami"], ports["iagi"], ports["iweb"]),
        }.items():
            extra = []
            if name == "loaded" and args.tracemalloc:
                extra += ["--tracemalloc", args.tracemalloc, "--frames", str(args.frames)]
            if name == "loaded" and args.census:
                extra += ["--census", args.census]
            nodes[name] = _spawn(
                "node",
                *("--db", str(work / f"{name}.db"), "--recordings", str(work / f"rec-{name}")),
                *("--ami-port", str(ami), "--agi-port", str(agi), "--web-port", str(web)),
                *common,
                *extra,
            )
            procs.append(nodes[name])
        samples: dict[str, list[dict]] = {name: [] for name in nodes}
        deadline = time.monotonic() + total_s + 5
        going = False
        import selectors

        sel = selectors.DefaultSelector()
        for name, proc in nodes.items():
            assert proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ, name)
        while time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                line = key.fileobj.readline()  # type: ignore[union-attr]
                if not line:
                    sel.unregister(key.fileobj)
                    continue
                sample = json.loads(line)
                sample["sim_rss_mib"] = _proc_rss_mib(sim.pid)  # pbx_sim, for the record
                samples[key.data].append(sample)
                if not going and all(samples.values()):
                    assert sim.stdin is not None
                    sim.stdin.write(b"go\n")
                    going = True
                print(
                    f"{key.data:6} t={sample['t']:7.0f}s calls={sample['calls']:6} "
                    f"rss={sample['rss_mib']:7.1f}MiB (sqlite {sample['sqlite_mib']:.1f}) "
                    f"fds={sample['fds']:4} "
                    f"tasks={sample['tasks']:4} bus={sample['bus_depth_total']:5}"
                    f"(max {sample['bus_depth_max']} {sample['bus_deepest']}) "
                    f"db={sample['db_bytes'] / 2**20:.1f}MiB "
                    f"wal={sample['wal_bytes'] / 2**20:.1f}MiB "
                    f"tracker={sample['tracker_linkedids']}/{sample['tracker_channels']} "
                    f"acd={sample['acd_calls']} sim={sample['sim_rss_mib']:.0f}MiB"
                    + (f" traced={sample['traced_mib']}MiB" if "traced_mib" in sample else ""),
                    flush=True,
                )
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a soak process died early")
        for proc in nodes.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in nodes.items():
            out, _ = proc.communicate(timeout=120)
            samples[name].extend(json.loads(line) for line in out.splitlines() if line.strip())
        sim.send_signal(signal.SIGTERM)  # after the nodes, so that they stop on a live PBX
        sim.communicate(timeout=60)
        report(samples, warmup_s, args)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def report(samples: dict[str, list[dict]], warmup_s: float, args: argparse.Namespace) -> None:
    loaded, idle = growth(samples["loaded"], warmup_s), growth(samples["idle"], warmup_s)
    calls = max(loaded["calls"], 1)
    per10k = loaded["rss_growth"] * 10_000 / calls
    idle_per10k = idle["rss_growth"] * 10_000 / calls
    print()
    print(
        f"soak: {args.minutes:g} min at {args.rate:g} calls/s, {args.operators} operators, "
        f"warm-up {warmup_s / 60:.1f} min; idle baseline ran at the same time"
    )
    print(f"{'after warm-up':48} {'loaded node':>14} {'idle node (baseline)':>22}")
    rows = [
        ("minutes measured", "minutes", "{:.1f}"),
        ("calls ended", "calls", "{:.0f}"),
        ("RSS at warm-up end, MiB", "rss_start", "{:.1f}"),
        ("RSS at end, MiB", "rss_end", "{:.1f}"),
        ("RSS growth, MiB", "rss_growth", "{:+.2f}"),
        ("of which SQLite's own memory (page caches), MiB", "sqlite_growth", "{:+.2f}"),
        ("open fds growth (fewest, last vs first quarter)", "fd_growth", "{:+.0f}"),
        ("asyncio tasks growth (same)", "task_growth", "{:+.0f}"),
        ("bus queue depth, max", "bus_depth_max", "{:.0f}"),
        ("SQLite file growth, MiB", "db_growth_mib", "{:+.2f}"),
        ("WAL at end, MiB", "wal_end_mib", "{:.2f}"),
        ("pbx_sim process RSS growth, MiB", "sim_rss_growth", "{:+.2f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:48} {fmt.format(loaded[key]):>14} {fmt.format(idle[key]):>22}")
    print(
        f"{'RSS growth per 10k calls, MiB':48} {per10k:>+14.2f} {idle_per10k:>+22.2f}"
        "  (idle: its growth over the loaded node's calls)"
    )
    print(
        f"{'RSS slope per 10k calls, MiB':48} {loaded['rss_slope_per_10k']:>+14.2f}"
        f" {'':>22}  (least squares over the samples)"
    )
    verdict = per10k <= TARGET_RSS_MIB_PER_10K and loaded["fd_growth"] <= 0
    verdict = verdict and loaded["task_growth"] <= 0
    print(
        f"target: <= {TARGET_RSS_MIB_PER_10K} MiB per 10k calls, no fd/task growth: "
        f"{'met' if verdict else 'NOT met'}"
    )
    print(
        json.dumps(
            {
                "rss_growth_mib_per_10k_calls": round(per10k, 3),
                "fd_growth": loaded["fd_growth"],
                "task_growth": loaded["task_growth"],
                "calls": loaded["calls"],
                "rss_slope_mib_per_10k_calls": round(loaded["rss_slope_per_10k"], 3),
                "sqlite_growth_mib_per_10k_calls": round(
                    loaded["sqlite_growth"] * 10_000 / calls, 3
                ),
                "idle_rss_growth_mib": round(idle["rss_growth"], 3),
                "idle_fd_growth": idle["fd_growth"],
                "idle_task_growth": idle["task_growth"],
                "minutes": args.minutes,
                "rate": args.rate,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=5.0, help="calls per second")
    parser.add_argument("--operators", type=int, default=60)
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--tracemalloc", default="", help="write the loaded node's growth here")
    parser.add_argument("--frames", type=int, default=25)
    parser.add_argument("--census", default="", help="write the loaded node's object growth here")
    # internal: the child processes
    parser.add_argument("--role", default="driver", choices=("driver", "node", "sim"))
    parser.add_argument("--db")
    parser.add_argument("--recordings")
    parser.add_argument("--callers")
    parser.add_argument("--ami-port", type=int)
    parser.add_argument("--agi-port", type=int)
    parser.add_argument("--web-port", type=int)
    parser.add_argument("--idle-ami-port", type=int)
    parser.add_argument("--idle-agi-port", type=int)
    parser.add_argument("--warmup-s", type=float, default=300.0)
    args = parser.parse_args()
    if args.role == "node":
        asyncio.run(node_main(args))
    elif args.role == "sim":
        asyncio.run(sim_main(args))
    else:
        drive(args)


if __name__ == "__main__":
    main()
