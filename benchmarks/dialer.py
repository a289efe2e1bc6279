"""Outbound pacing benchmark: one shift of virtual time, the same traffic through three pacers.

    .venv/bin/python benchmarks/dialer.py [--quick] [--seed N]

50 operators, 8 hours, 25 % of dials answered, 15 % of answers are machines, talk time
lognormal with mean 150 s, 20 s wrap-up. A person who answers and finds no operator within
2 s is an abandoned call. Pacers:
  (a) progressive 1:1;
  (b) VICIdial's ADAPT_HARD_LIMIT: every 15 s level *= 1 + (ready - waiting + target)/agents,
      clamped 1.0-3.0, and 1.0 while the day's drop rate is above 3 %;
      lines = level x (ready + talking operators) - calls in progress (VICIdial's auto-dial rule);
  (c) ours: dialer.pacing.Pacer, the production code.
The i-th dial of every pacer meets the same far end (answer, machine, ring and talk times), so
the pacers differ only in when and how much they dial.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file (dialer.py) would
# shadow the dialer package it measures.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from dialer.pacing import (
    Activity,
    AgentLoad,
    CallStage,
    DialMode,
    LiveCall,
    Pacer,
    PacingPolicy,
    PacingSnapshot,
)

GRACE_S = 2.0
WRAP_S = 20.0
NO_ANSWER_TIMEOUT_S = 25.0


@dataclass(frozen=True, slots=True)
class FarEnd:
    """What the i-th dialled number does."""

    answered: bool
    machine: bool
    ring_s: float  # until answer, or until failure (busy, no answer, congestion)
    screen_s: float  # AMD time after the answer
    talk_s: float


class Traffic:
    """The same far ends in the same order for every pacer (fixed seed)."""

    def __init__(self, seed: int, answer_rate: float = 0.25, machine_share: float = 0.15) -> None:
        self._rng = random.Random(seed)
        self._answer_rate = answer_rate
        self._machine_share = machine_share
        self._made: list[FarEnd] = []
        sigma = 0.8
        self._mu = math.log(150.0) - sigma * sigma / 2  # lognormal with mean 150 s
        self._sigma = sigma

    def __getitem__(self, i: int) -> FarEnd:
        while len(self._made) <= i:
            self._made.append(self._draw())
        return self._made[i]

    def _draw(self) -> FarEnd:
        r = self._rng
        answered = r.random() < self._answer_rate
        machine = answered and r.random() < self._machine_share
        if answered:
            ring = r.uniform(3.0, 15.0)
        else:
            kind = r.random()
            ring = (
                r.uniform(1.0, 3.0)  # busy
                if kind < 0.3
                else r.uniform(0.5, 2.0)  # congestion / invalid
                if kind < 0.4
                else NO_ANSWER_TIMEOUT_S
            )
        screen = r.uniform(3.5, 5.0) if machine else r.uniform(2.0, 3.0)
        talk = r.lognormvariate(self._mu, self._sigma)
        return FarEnd(answered, machine, ring, screen, talk)


@dataclass(slots=True)
class Agent:
    activity: Activity = Activity.READY
    since: float = 0.0
    busy_s: float = 0.0  # talk + wrap-up, within the shift


@dataclass(slots=True)
class Call:
    far: FarEnd
    stage: CallStage
    since: float


@dataclass
class Result:
    name: str
    dials: int = 0
    people: int = 0
    abandoned: int = 0
    contacts: int = 0
    occupancy_pct: float = 0.0
    contacts_per_hour: float = 0.0
    abandon_pct: float = 0.0
    max_30min_abandon_pct: float = 0.0
    per_minute: dict[int, list[int]] = field(default_factory=dict)


class Shift:
    """Discrete-event simulation of one shift for one pacing rule."""

    def __init__(self, traffic: Traffic, agents: int, hours: float, name: str) -> None:
        self.traffic = traffic
        self.end = hours * 3600.0
        self.agents = [Agent() for _ in range(agents)]
        self.calls: set[int] = set()
        self.live: dict[int, Call] = {}
        self.waiting: deque[int] = deque()
        self.events: list[tuple[float, int, str, int]] = []
        self.seq = 0
        self.now = 0.0
        self.result = Result(name)

    # -- to be provided by each pacing rule -------------------------------------------------
    def lines(self) -> int:
        raise NotImplementedError

    def on_person(self, abandoned: bool) -> None:
        """Hook for rules that learn from live answers."""

    def on_dial_resolved(self, call: Call, answered: bool) -> None:
        """Hook for rules that learn from ring outcomes."""

    def on_screened(self, call: Call, human: bool) -> None:
        """Hook for rules that learn from AMD outcomes."""

    def on_agent_done(self, talk_s: float, wrap_s: float) -> None:
        """Hook for rules that learn talk and wrap-up times."""

    # -- machinery ----------------------------------------------------------------------------
    def at(self, when: float, kind: str, ref: int = -1) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, ref))

    def dial(self, count: int) -> None:
        for _ in range(count):
            i = self.result.dials
            self.result.dials += 1
            far = self.traffic[i]
            self.live[i] = Call(far, CallStage.RINGING, self.now)
            self.at(self.now + far.ring_s, "ring_end", i)

    def ready_agents(self) -> list[Agent]:
        return [a for a in self.agents if a.activity is Activity.READY]

    def connect(self, i: int, agent: Agent) -> None:
        call = self.live.pop(i)
        agent.activity, agent.since = Activity.TALKING, self.now
        self.result.contacts += 1
        self.at(self.now + call.far.talk_s, "talk_end", self.agents.index(agent))

    def person(self, i: int) -> None:
        self._count_person()
        ready = self.ready_agents()
        if ready:
            self.connect(i, min(ready, key=lambda a: a.since))
            self.on_person(False)
            return
        self.live[i].stage, self.live[i].since = CallStage.WAITING, self.now
        self.waiting.append(i)
        self.at(self.now + GRACE_S, "grace_end", i)

    def _count_person(self) -> None:
        self.result.people += 1
        self.result.per_minute.setdefault(int(self.now // 60), [0, 0])[0] += 1

    def step(self, kind: str, ref: int) -> None:
        if kind == "ring_end":
            call = self.live[ref]
            self.on_dial_resolved(call, call.far.answered)
            if not call.far.answered:
                del self.live[ref]
                return
            call.stage, call.since = CallStage.SCREENING, self.now
            self.at(self.now + call.far.screen_s, "screen_end", ref)
        elif kind == "screen_end":
            call = self.live[ref]
            self.on_screened(call, not call.far.machine)
            if call.far.machine:
                del self.live[ref]
            else:
                self.person(ref)
        elif kind == "grace_end":
            if ref in self.live:  # nobody took it: identification message, hang up
                del self.live[ref]
                self.waiting.remove(ref)
                self.result.abandoned += 1
                self.result.per_minute.setdefault(int(self.now // 60), [0, 0])[1] += 1
                self.on_person(True)
        elif kind == "talk_end":
            agent = self.agents[ref]
            self._busy(agent)
            self.on_agent_done(self.now - agent.since, WRAP_S)
            agent.activity, agent.since = Activity.WRAP_UP, self.now
            self.at(self.now + WRAP_S, "wrap_end", ref)
        elif kind == "wrap_end":
            agent = self.agents[ref]
            self._busy(agent)
            agent.activity, agent.since = Activity.READY, self.now
            if self.waiting:
                self.connect(self.waiting.popleft(), agent)
                self.on_person(False)

    def _busy(self, agent: Agent) -> None:
        agent.busy_s += min(self.now, self.end) - min(agent.since, self.end)

    def run(self, tick_s: float = 1.0) -> Result:
        next_tick = 0.0
        while True:
            when = self.events[0][0] if self.events else math.inf
            if next_tick <= when and next_tick < self.end:
                self.now = next_tick
                self.dial(max(0, self.lines()))
                next_tick += tick_s
                continue
            if when == math.inf or when > self.end + 3600:
                break
            when, _, kind, ref = heapq.heappop(self.events)
            self.now = when
            self.step(kind, ref)
        for agent in self.agents:  # close the shift for operators still busy
            if agent.activity is not Activity.READY:
                agent.busy_s += max(0.0, self.end - min(agent.since, self.end))
        return self.finish()

    def finish(self) -> Result:
        r = self.result
        logged_in = len(self.agents) * self.end
        r.occupancy_pct = 100.0 * sum(a.busy_s for a in self.agents) / logged_in
        r.contacts_per_hour = r.contacts / (logged_in / 3600.0)
        r.abandon_pct = 100.0 * r.abandoned / r.people if r.people else 0.0
        minutes = [r.per_minute.get(m, [0, 0]) for m in range(int(self.end // 60) + 1)]
        worst = 0.0
        for start in range(0, max(1, len(minutes) - 29)):
            people = sum(m[0] for m in minutes[start : start + 30])
            dropped = sum(m[1] for m in minutes[start : start + 30])
            if people:
                worst = max(worst, 100.0 * dropped / people)
        r.max_30min_abandon_pct = worst
        return r


class Progressive(Shift):
    def lines(self) -> int:
        return len(self.ready_agents()) - len(self.live)


class AdaptHardLimit(Shift):
    """VICIdial ADAPT_HARD_LIMIT with adaptive_dl_diff_target 0 and a 3 % drop limit."""

    def __init__(self, traffic: Traffic, agents: int, hours: float, name: str) -> None:
        super().__init__(traffic, agents, hours, name)
        self.level = 1.0
        self.next_adapt = 15.0

    def lines(self) -> int:
        if self.now >= self.next_adapt:
            self.next_adapt += 15.0
            ready = len(self.ready_agents())
            waiting = len(self.waiting)
            agents = len(self.agents)
            self.level = min(3.0, max(1.0, self.level * (1 + (ready - waiting + 0) / agents)))
            r = self.result
            if r.people and r.abandoned / r.people > 0.03:
                self.level = 1.0
        active = sum(a.activity is not Activity.WRAP_UP for a in self.agents)
        talking = sum(a.activity is Activity.TALKING for a in self.agents)
        return math.floor(self.level * active) - (len(self.live) + talking)


class Ours(Shift):
    def __init__(self, traffic: Traffic, agents: int, hours: float, name: str) -> None:
        super().__init__(traffic, agents, hours, name)
        self.pacer = Pacer(PacingPolicy(mode=DialMode.PREDICTIVE))

    def lines(self) -> int:
        snapshot = PacingSnapshot(
            agents=tuple(AgentLoad(a.activity, self.now - a.since) for a in self.agents),
            calls=tuple(LiveCall(c.stage, self.now - c.since) for c in self.live.values()),
        )
        return self.pacer.decide(snapshot, self.now).dials

    def on_person(self, abandoned: bool) -> None:
        self.pacer.live_answer(self.now, abandoned)

    def on_dial_resolved(self, call: Call, answered: bool) -> None:
        self.pacer.stats.dial_resolved(answered, self.now - call.since)

    def on_screened(self, call: Call, human: bool) -> None:
        self.pacer.stats.screened(human, self.now - call.since)

    def on_agent_done(self, talk_s: float, wrap_s: float) -> None:
        self.pacer.stats.talk.add(talk_s)
        self.pacer.stats.wrap.add(wrap_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 operators, 2 hours")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    agents, hours = (20, 2.0) if args.quick else (50, 8.0)

    print(f"dialer pacing: {agents} operators, {hours:g} h shift, seed {args.seed}")
    print("traffic: 25% answered, 15% of answers machines, talk lognormal mean 150 s, wrap 20 s")
    results = {}
    for key, rule in (("progressive", Progressive), ("adapt", AdaptHardLimit), ("ours", Ours)):
        started = time.perf_counter()
        r = rule(Traffic(args.seed), agents, hours, key).run()
        results[key] = r
        print(
            f"{key:12s} occupancy {r.occupancy_pct:5.1f}%  contacts/op-hour "
            f"{r.contacts_per_hour:5.2f}  abandon {r.abandon_pct:4.2f}% "
            f"(max 30 min {r.max_30min_abandon_pct:4.2f}%)  dials {r.dials}  "
            f"people {r.people}  [{time.perf_counter() - started:.1f} s]"
        )
    figures = {
        "progressive_occupancy_pct": round(results["progressive"].occupancy_pct, 2),
        "progressive_abandon_pct": round(results["progressive"].abandon_pct, 2),
        "progressive_contacts_per_op_hour": round(results["progressive"].contacts_per_hour, 2),
        "adapt_occupancy_pct": round(results["adapt"].occupancy_pct, 2),
        "adapt_abandon_pct": round(results["adapt"].abandon_pct, 2),
        "adapt_max_30min_abandon_pct": round(results["adapt"].max_30min_abandon_pct, 2),
        "adapt_contacts_per_op_hour": round(results["adapt"].contacts_per_hour, 2),
        "ours_occupancy_pct": round(results["ours"].occupancy_pct, 2),
        "ours_abandon_pct": round(results["ours"].abandon_pct, 2),
        "ours_max_30min_abandon_pct": round(results["ours"].max_30min_abandon_pct, 2),
        "ours_contacts_per_op_hour": round(results["ours"].contacts_per_hour, 2),
        "agents": agents,
        "hours": hours,
        "seed": args.seed,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
