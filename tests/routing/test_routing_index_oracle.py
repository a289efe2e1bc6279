"""The indexes must choose exactly what scanning everything would choose.

Random sequences of logins, pauses, calls and hang-ups; before each decision the brute-force
answer is computed from the public state, and after every step the ACD's invariant is checked:
no ready agent qualifies for a call that waits for anyone.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.clock import ManualClock
from routing.acd import Acd
from routing.agent_state import AgentState
from routing.queues import OverflowRule, QueueConfig, Strategy
from routing.ready_index import preference
from routing.waiting import CallStatus

SKILLS = ("en", "ru", "legal", "general")
QUEUES = (
    QueueConfig(name="en", skills=(("en", 40),), wrap_up_s=0),
    QueueConfig(
        name="ru",
        skills=(("ru", 60),),
        overflow=(OverflowRule(after_s=30, relax_to_level=20),),
        wrap_up_s=0,
        strategy=Strategy.HIGHEST_LEVEL,
    ),
    QueueConfig(
        name="legal",
        skills=(("legal", 50), ("en", 20)),
        overflow=(OverflowRule(after_s=20, add_skills=(("general", 1),)),),
        priority=3,
        wrap_up_s=0,
        strategy=Strategy.LEAST_CALLS,
    ),
    QueueConfig(name="any", wrap_up_s=0, strategy=Strategy.ROUND_ROBIN),
)


def random_ops(rng: random.Random, steps: int) -> Iterator[tuple[str, object, object]]:
    for _ in range(steps):
        kind = rng.choice(
            (
                "login",
                "pause",
                "ready",
                "ready",
                "call",
                "call",
                "answer",
                "hangup",
                "hangup",
                "wait",
            )
        )
        if kind == "login":
            skills = {s: rng.randint(1, 100) for s in rng.sample(SKILLS, rng.randint(1, 4))}
            yield kind, rng.randrange(16), skills
        elif kind in ("pause", "ready"):
            yield kind, rng.randrange(16), None
        elif kind == "call":
            yield kind, rng.choice(QUEUES).name, rng.choice((0, 0, 0, 1, 5))
        elif kind in ("answer", "hangup"):
            yield kind, rng.random(), None  # which of the live calls
        else:
            yield kind, rng.randint(1, 25), None


def best_agent_by_scan(acd: Acd, queue: str, requirement) -> str | None:
    strategy = acd.queue(queue).strategy
    candidates = []
    for agent in acd.agents:
        if agent.state is not AgentState.READY or not requirement.met_by(agent.skills):
            continue
        for alt in requirement.alternatives:
            skill = alt[0][0] if alt else ""
            if all(agent.skills.get(s, 0) >= m for s, m in alt):
                candidates.append(preference(agent, strategy, skill))
    return str(min(candidates)[-1]) if candidates else None


def best_call_by_scan(acd: Acd, skills: dict[str, int]) -> str | None:
    calls = [c for c in acd.waiting if c.sticky_agent is None and c.requirement.met_by(skills)]
    return min(calls, key=lambda c: c.rank()).linkedid if calls else None


def check_invariant(acd: Acd) -> None:
    for call in acd.waiting:
        assert call.status is CallStatus.WAITING
        for agent in acd.agents:
            if agent.state is AgentState.READY:
                assert not call.requirement.met_by(agent.skills), (call.linkedid, agent.agent_id)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32))
def test_indexed_choices_equal_brute_force(seed):
    clock = ManualClock()
    acd = Acd(clock, QUEUES)
    calls = 0
    decisions = 0
    for kind, a, b in random_ops(random.Random(seed), 300):
        agent_id = f"agent{a}"
        agent = acd.agents.find(agent_id) if isinstance(a, int) else None
        if kind == "login" and (agent is None or agent.state is AgentState.LOGGED_OUT):
            expected = best_call_by_scan(acd, b)
            acd.login(agent_id, f"Local/{agent_id}@cb-agents", b)
            offers = acd.take_offers()
            assert [o.linkedid for o in offers] == ([expected] if expected else [])
        elif kind == "ready" and agent is not None and agent.state is AgentState.PAUSED:
            expected = best_call_by_scan(acd, agent.skills)
            acd.make_ready(agent_id)
            offers = acd.take_offers()
            assert [o.linkedid for o in offers] == ([expected] if expected else [])
        elif kind == "pause" and agent is not None and agent.state is AgentState.READY:
            acd.pause(agent_id, "break")
        elif kind == "call":
            calls += 1
            linkedid = f"L{calls}"
            q = acd.queue(a)
            expected = best_agent_by_scan(acd, a, q.requirement)
            acd.enqueue(linkedid, a, caller_channel=f"chan-{linkedid}", priority=b)
            offers = acd.take_offers()
            assert [o.agent_id for o in offers] == ([expected] if expected else [])
            decisions += expected is not None
        elif kind in ("answer", "hangup"):
            live = [acd.call(f"L{n}") for n in range(1, calls + 1)]
            live = [c for c in live if c is not None]
            if not live:
                continue
            call = live[int(a * len(live))]
            if kind == "answer" and call.status is CallStatus.OFFERED:
                acd.ringing(call.linkedid)
                acd.answered(call.linkedid)
            else:
                acd.call_ended(call.linkedid)
            acd.take_offers()
        elif kind == "wait":
            clock.advance(a)
            acd.advance()
            acd.take_offers()
        check_invariant(acd)
    assert decisions > 0  # the sequence did exercise agent choice
