"""A shift in virtual time through the real routing core, checked against queueing theory.

100 agents, one skill queue, Poisson arrivals at 90% load, exponential talk times, 8 hours
measured after a 30-minute warm-up, event-driven on a ManualClock: every arrival, answer,
hang-up and abandon goes through the real Acd (enqueue, offers, ringing/answered, call_ended),
and the figures come from the ACD's own statistics (service level, ASA, abandons) and agent
state accounting (occupancy).

Two runs, several independent replications each:
- abandonment off: compared with the Erlang C prediction (M/M/N) for the same load;
- callers with exponential patience: compared with the exact M/M/N+M (Erlang A) birth-death
  solution for the share of callers who abandon.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crm_core.clock import ManualClock
from routing.acd import Acd
from routing.agent_state import AgentState
from routing.queues import QueueConfig
from routing.stats import Tally
from routing.waiting import CallStatus

TARGET_S = 20.0
WARM_UP_S = 1800.0  # the center starts empty; measure from its steady state on
WORKING = frozenset(AgentState) - {AgentState.LOGGED_OUT}


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits (M/M/N), computed stably via Erlang B."""
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return agents * b / (agents - load * (1 - b))


def erlang_c_figures(agents: int, rate: float, aht: float) -> dict[str, float]:
    load = rate * aht
    p_wait = erlang_c(agents, load)
    return {
        "sl_pct": 100 * (1 - p_wait * math.exp(-(agents - load) * TARGET_S / aht)),
        "asa_s": p_wait * aht / (agents - load),
        "occupancy_pct": 100 * load / agents,
        "p_wait_pct": 100 * p_wait,
    }


def erlang_a_abandon_pct(agents: int, rate: float, aht: float, patience: float) -> float:
    """Share of callers who abandon in M/M/N+M, from the stationary birth-death distribution."""
    mu, theta = 1 / aht, 1 / patience
    weights = [1.0]
    k = 0
    while True:
        k += 1
        death = min(k, agents) * mu + max(k - agents, 0) * theta
        weights.append(weights[-1] * rate / death)
        if k > agents and weights[-1] < 1e-14 * max(weights):
            break
    total = sum(weights)
    abandon_rate = sum(w * max(n - agents, 0) * theta for n, w in enumerate(weights)) / total
    return 100 * abandon_rate / rate


@dataclass
class Result:
    offered: int
    sl_pct: float
    asa_s: float
    abandon_pct: float
    occupancy_pct: float
    events: int
    wall_s: float


def simulate(
    agents: int, rate: float, aht: float, hours: float, patience: float | None, seed: int
) -> Result:
    rng = random.Random(seed)
    clock = ManualClock()
    queue = QueueConfig(name="main", wrap_up_s=0, sl_target_s=TARGET_S, short_abandon_s=0)
    acd = Acd(clock, [queue])
    for n in range(agents):
        acd.login(f"agent{n:03d}", f"Local/agent{n:03d}@cb-agents", {})
    pending: list[tuple[float, int, str, str]] = []  # (time, seq, kind, linkedid)
    seq = 0

    def at(when: float, kind: str, linkedid: str = "") -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(pending, (when, seq, kind, linkedid))

    def connect_offers() -> None:
        for offer in acd.take_offers():  # agents answer at once: no ring time in M/M/N
            acd.ringing(offer.linkedid)
            acd.answered(offer.linkedid)
            at(clock.monotonic() + rng.expovariate(1 / aht), "hangup", offer.linkedid)
        acd.take_events()

    def measure() -> tuple[Tally, float, float]:
        tally = acd.board.stats("main").today(clock.now())
        logged = sum(
            acd.agents.seconds_in(a, s) for a in acd.agents for s in AgentState if s in WORKING
        )
        talking = sum(acd.agents.seconds_in(a, AgentState.ON_CALL) for a in acd.agents)
        return tally, logged, talking

    at(rng.expovariate(rate), "arrival")
    at(WARM_UP_S, "warm_up")
    at(WARM_UP_S + hours * 3600, "end")
    calls = events = 0
    started = time.perf_counter()
    while True:
        when, _, kind, linkedid = heapq.heappop(pending)
        clock.advance(when - clock.monotonic())
        acd.advance()
        events += 1
        if kind == "warm_up":
            before = measure()
        elif kind == "end":
            after = measure()
            break
        elif kind == "arrival":
            calls += 1
            linkedid = f"call{calls}"
            acd.enqueue(linkedid, "main", caller_channel=f"Local/100@cb-hold-{calls};2")
            if patience is not None:
                at(when + rng.expovariate(1 / patience), "give_up", linkedid)
            at(when + rng.expovariate(rate), "arrival")
        elif kind == "hangup":
            acd.call_ended(linkedid)
        elif kind == "give_up":
            call = acd.call(linkedid)
            if call is not None and call.status is CallStatus.WAITING:
                acd.call_ended(linkedid)
        connect_offers()
    wall_s = time.perf_counter() - started
    (t0, logged0, talking0), (t1, logged1, talking1) = before, after
    answered = t1.answered - t0.answered
    abandoned = t1.abandoned - t0.abandoned
    return Result(
        offered=t1.offered - t0.offered,
        sl_pct=100
        * (t1.answered_within_target - t0.answered_within_target)
        / (answered + abandoned),
        asa_s=(t1.answer_wait_total - t0.answer_wait_total) / answered,
        abandon_pct=100 * abandoned / (t1.offered - t0.offered),
        occupancy_pct=100 * (talking1 - talking0) / (logged1 - logged0),
        events=events,
        wall_s=wall_s,
    )


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short replication per run")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--load", type=float, default=0.9, help="offered load per agent")
    parser.add_argument("--aht", type=float, default=180.0, help="mean talk time, s")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--patience", type=float, default=120.0, help="mean patience, s")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.hours, args.replications = 2.0, 1
    rate = args.load * args.agents / args.aht
    theory = erlang_c_figures(args.agents, rate, args.aht)
    print(
        f"{args.agents} agents, {rate:.3f} calls/s (load {rate * args.aht:.0f} Erlangs, "
        f"{args.load:.0%}), mean talk {args.aht:.0f} s, {args.hours:g} h x "
        f"{args.replications} replications; SL target {TARGET_S:.0f} s"
    )
    runs: dict[str, list[Result]] = {"no_abandon": [], "patience": []}
    for r in range(args.replications):
        seed = args.seed + r
        runs["no_abandon"].append(simulate(args.agents, rate, args.aht, args.hours, None, seed))
        runs["patience"].append(
            simulate(args.agents, rate, args.aht, args.hours, args.patience, seed)
        )
    for name, results in runs.items():
        for i, res in enumerate(results):
            print(
                f"  {name:10} #{i + 1}: {res.offered} calls, SL {res.sl_pct:5.1f}%, "
                f"ASA {res.asa_s:5.1f} s, abandoned {res.abandon_pct:4.1f}%, occupancy "
                f"{res.occupancy_pct:4.1f}%  ({res.events} events in {res.wall_s:.1f} s)"
            )
    plain, patient = runs["no_abandon"], runs["patience"]
    sim_sl, sim_asa = mean([r.sl_pct for r in plain]), mean([r.asa_s for r in plain])
    sim_occ = mean([r.occupancy_pct for r in plain])
    print(
        f"abandonment off:  simulated SL {sim_sl:.1f}%  ASA {sim_asa:.1f} s  occupancy "
        f"{sim_occ:.1f}%"
    )
    print(
        f"Erlang C:         predicted SL {theory['sl_pct']:.1f}%  ASA {theory['asa_s']:.1f} s  "
        f"occupancy {theory['occupancy_pct']:.1f}%  (P(wait) {theory['p_wait_pct']:.1f}%)"
    )
    erlang_a = erlang_a_abandon_pct(args.agents, rate, args.aht, args.patience)
    pat_ab = mean([r.abandon_pct for r in patient])
    print(
        f"patience {args.patience:.0f} s: simulated SL {mean([r.sl_pct for r in patient]):.1f}%  "
        f"ASA {mean([r.asa_s for r in patient]):.1f} s  abandoned {pat_ab:.2f}%  occupancy "
        f"{mean([r.occupancy_pct for r in patient]):.1f}%;  Erlang A predicts abandoned "
        f"{erlang_a:.2f}%"
    )
    print(
        json.dumps(
            {
                "agents": args.agents,
                "hours": args.hours,
                "replications": args.replications,
                "calls": sum(r.offered for r in plain),
                "sl_pct": round(sim_sl, 2),
                "erlang_c_sl_pct": round(theory["sl_pct"], 2),
                "asa_s": round(sim_asa, 2),
                "erlang_c_asa_s": round(theory["asa_s"], 2),
                "occupancy_pct": round(sim_occ, 2),
                "erlang_c_occupancy_pct": round(theory["occupancy_pct"], 2),
                "abandon_pct": round(pat_ab, 2),
                "erlang_a_abandon_pct": round(erlang_a, 2),
                "patience_sl_pct": round(mean([r.sl_pct for r in patient]), 2),
                "patience_asa_s": round(mean([r.asa_s for r in patient]), 2),
                "patience_occupancy_pct": round(mean([r.occupancy_pct for r in patient]), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
