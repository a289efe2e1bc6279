"""Routing decisions at scale: 2,000 agents with 20 skills, 1,000 waiting calls.

Builds a busy contact center in the real ACD core (virtual time), then plays a stream of state
changes: agents finishing calls (the freed agent takes the best call it can serve), new calls
(the best ready agent is chosen, or the call waits), pauses and returns, abandons, and time
passing (overflow rules fire). Each routing decision is timed as the full core operation
(state change, index updates, choice, reservation), in thread CPU time so that other processes
on a shared machine do not inflate it; the wall-clock p99 is printed too.

Baseline, measured in the same run on the same states: the naive choice that scans every
waiting call (for a freed agent) or every agent (for a new call). Before each decision the naive
answer is computed first and must equal the indexed one; any mismatch is reported.
Target: decision p99 <= 1 ms.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.figures import percentile
from crm_core.clock import ManualClock
from routing.acd import Acd
from routing.agent_state import AgentState
from routing.agents import Agent
from routing.queues import OverflowRule, QueueConfig, Strategy
from routing.ready_index import preference
from routing.skills import Requirement
from routing.waiting import CallStatus, WaitingCall

SKILLS = [f"skill{n:02d}" for n in range(20)]


def make_queues(rng: random.Random, count: int) -> list[QueueConfig]:
    queues = []
    for n in range(count):
        skills = rng.sample(SKILLS, rng.choice((1, 1, 2)))
        queues.append(
            QueueConfig(
                name=f"q{n:02d}",
                skills=tuple((s, rng.choice((20, 40, 60, 80))) for s in skills),
                priority=rng.choice((0, 0, 0, 5)),
                overflow=(
                    OverflowRule(after_s=30, relax_to_level=20),
                    OverflowRule(after_s=90, add_skills=(("skill00", 1),)),
                ),
                wrap_up_s=0,
                strategy=Strategy.HIGHEST_LEVEL if n % 4 == 0 else Strategy.LONGEST_IDLE,
            )
        )
    return queues


def naive_call_for(acd: Acd, skills: dict[str, int]) -> str | None:
    """Scan every waiting call."""
    best = None
    for call in acd.waiting:
        if call.sticky_agent is None and call.requirement.met_by(skills):
            if best is None or call.rank() < best.rank():
                best = call
    return best.linkedid if best else None


def naive_agent_for(acd: Acd, requirement: Requirement, strategy: Strategy) -> str | None:
    """Scan every agent."""
    best_key = None
    for agent in acd.agents:
        if agent.state is not AgentState.READY:
            continue
        for alt in requirement.alternatives:
            if all(agent.skills.get(s, 0) >= m for s, m in alt):
                key = preference(agent, strategy, alt[0][0] if alt else "")
                if best_key is None or key < best_key:
                    best_key = key
    return str(best_key[-1]) if best_key else None


class Center:
    def __init__(self, agents: int, waiting: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = ManualClock()
        self.queues = make_queues(self.rng, 40)
        self.acd = Acd(self.clock, self.queues)
        self.calls = 0
        self.target_waiting = waiting
        self.decision_ms: dict[str, list[float]] = {"freed": [], "new_call": [], "unpause": []}
        self.naive_ms: dict[str, list[float]] = {"freed": [], "new_call": [], "unpause": []}
        self.decision_wall_ms: list[float] = []  # includes preemption by other processes
        self.mismatches = 0
        for n in range(agents):
            skills = {s: self.rng.randint(1, 100) for s in self.rng.sample(SKILLS, 4)}
            self.acd.login(f"a{n:04d}", f"PJSIP/a{n:04d}", skills, paused_reason="start")
        self.agent_list = list(self.acd.agents)

    def new_linkedid(self) -> str:
        self.calls += 1
        return f"L{self.calls}"

    def connect_offers(self) -> None:
        for offer in self.acd.take_offers():
            self.acd.ringing(offer.linkedid)
            self.acd.answered(offer.linkedid)
        self.acd.take_events()

    def fill(self) -> None:
        """Everyone busy, and `target_waiting` callers waiting for an agent who can serve them."""
        for agent in list(self.acd.agents):
            self.acd.make_ready(agent.agent_id)
        while len(self.acd.waiting) < self.target_waiting:
            q = self.rng.choice(self.queues)
            self.acd.enqueue(self.new_linkedid(), q.name, caller_channel="c")
            self.connect_offers()

    def timed(
        self, kind: str, naive: Callable[[], str | None], decide: Callable[[], object]
    ) -> None:
        c0 = time.thread_time()
        expected = naive()
        c1, w1 = time.thread_time(), time.perf_counter()
        decide()
        c2, w2 = time.thread_time(), time.perf_counter()
        offers = self.acd.take_offers()
        self.naive_ms[kind].append((c1 - c0) * 1000)
        self.decision_ms[kind].append((c2 - c1) * 1000)
        self.decision_wall_ms.append((w2 - w1) * 1000)
        if not offers:
            got = None
        else:
            got = offers[0].agent_id if kind == "new_call" else offers[0].linkedid
        if got != expected:
            self.mismatches += 1
        for offer in offers:
            self.acd.ringing(offer.linkedid)
            self.acd.answered(offer.linkedid)
        self.acd.take_events()

    def step(self) -> None:
        roll = self.rng.random()
        acd = self.acd
        if roll < 0.40:  # an agent finishes a call and takes the next one
            on_call = [a for a in self.sample_agents(40) if a.state is AgentState.ON_CALL]
            if not on_call:
                return
            agent = on_call[0]
            self.timed(
                "freed",
                lambda: naive_call_for(acd, agent.skills),
                lambda: acd.call_ended(agent.linkedid or ""),
            )
        elif roll < 0.80 or len(acd.waiting) < self.target_waiting:  # a new caller
            q = self.rng.choice(self.queues)
            linkedid = self.new_linkedid()
            self.timed(
                "new_call",
                lambda: naive_agent_for(acd, q.requirement, q.strategy),
                lambda: acd.enqueue(linkedid, q.name, caller_channel="c"),
            )
        elif roll < 0.88:  # a ready agent takes a break, a paused one comes back
            agents = self.sample_agents(40)
            paused = [a for a in agents if a.state is AgentState.PAUSED]
            ready = [a for a in agents if a.state is AgentState.READY]
            if ready:
                acd.pause(ready[0].agent_id, "break")
            if paused:
                agent = paused[0]
                self.timed(
                    "unpause",
                    lambda: naive_call_for(acd, agent.skills),
                    lambda: acd.make_ready(agent.agent_id),
                )
        elif roll < 0.96:  # a caller gives up
            waiting = [c for c in self.sample_calls(20) if c.status is CallStatus.WAITING]
            if waiting:
                acd.call_ended(waiting[0].linkedid)
                acd.take_events()
        else:  # time passes: overflow rules fire
            self.clock.advance(self.rng.uniform(0.5, 5))
            acd.advance()
            self.connect_offers()

    def sample_agents(self, n: int) -> list[Agent]:
        agents = self.agent_list
        return [agents[self.rng.randrange(len(agents))] for _ in range(n)]

    def sample_calls(self, n: int) -> list[WaitingCall]:
        calls = list(self.acd.waiting)
        return [calls[self.rng.randrange(len(calls))] for _ in range(n)] if calls else []

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()
            self.clock.advance(0.01)


def summary(values: list[float]) -> tuple[float, float]:
    return (statistics.median(values), percentile(values, 99)) if values else (0.0, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.quick:
        args.agents, args.waiting, args.steps = 300, 150, 3000
    center = Center(args.agents, args.waiting, args.seed)
    t0 = time.perf_counter()
    center.fill()
    fill_s = time.perf_counter() - t0
    gc.collect()
    gc.freeze()  # the long-lived center is not rescanned by every collection
    print(
        f"{args.agents} agents, {len(SKILLS)} skills, {len(center.queues)} queues; "
        f"{len(center.acd.waiting)} calls waiting after fill ({fill_s:.1f} s)"
    )
    center.run(args.steps)
    decisions = [v for vs in center.decision_ms.values() for v in vs]
    naive = [v for vs in center.naive_ms.values() for v in vs]
    for kind in center.decision_ms:
        d50, d99 = summary(center.decision_ms[kind])
        n50, n99 = summary(center.naive_ms[kind])
        print(
            f"{kind:9} n={len(center.decision_ms[kind]):6}  indexed p50 {d50:.3f} ms "
            f"p99 {d99:.3f} ms | naive scan p50 {n50:.3f} ms p99 {n99:.3f} ms"
        )
    d50, d99 = summary(decisions)
    n50, n99 = summary(naive)
    print(
        f"all decisions: indexed p50 {d50:.3f} ms, p99 {d99:.3f} ms (target p99 <= 1 ms); "
        f"naive scan p50 {n50:.3f} ms, p99 {n99:.3f} ms"
    )
    w50, w99 = summary(center.decision_wall_ms)
    print(
        f"indexed decisions in wall-clock time (includes preemption on a shared machine): "
        f"p50 {w50:.3f} ms, p99 {w99:.3f} ms"
    )
    print(
        f"waiting at end {len(center.acd.waiting)}; choices differing from the naive scan: "
        f"{center.mismatches}"
    )
    print(
        json.dumps(
            {
                "agents": args.agents,
                "skills": len(SKILLS),
                "waiting_calls": len(center.acd.waiting),
                "decisions": len(decisions),
                "decision_p50_ms": round(d50, 4),
                "decision_p99_ms": round(d99, 4),
                "naive_p50_ms": round(n50, 4),
                "naive_p99_ms": round(n99, 4),
                "decision_wall_p99_ms": round(w99, 4),
                "mismatches": center.mismatches,
            }
        )
    )


if __name__ == "__main__":
    main()
