"""How many numbers to dial now.

Preview and progressive never risk an abandoned call: at most one call per ready operator.
Predictive dials ahead of operators who are about to free up, which is where the occupancy
comes from and where abandoned calls (a person answered, no operator within 2 s) come from.

The predictive pacer looks one connect delay ahead (dial -> answer -> AMD says "person"):
    X = people who will need an operator by then: every live call weighted by its chance to turn
        into a person given how long it has already rung or been screened, plus the new dials;
    Y = operators free by then (+ the 2 s grace): ready ones, plus talking/wrapping ones weighted
        by their chance to finish given their time in state (the campaign's own talk/wrap samples).
It adds calls one at a time while the next one's risk, P(no operator left for it | it turns
out to be a person) = P(X ahead of it >= Y), stays within the risk limit (normal approximation
of the two sums of Bernoullis). Dialling while the marginal risk is below a limit is the shape
of the best policy (most connects for a given abandon budget); the limit sets the budget.

The risk limit starts at the goal (target abandon rate minus a safety margin) and is corrected
by integral feedback from every live answer (abandoned or not), so the realised abandon rate
converges on the goal whatever the model's errors. If the measured rate over any legal window
(24 h, 30 days) reaches the target, the pacer falls back to progressive until it recovers; it
also dials progressively for its first few dozen dials, until the list has shown its own
answer rate (priors are guesses).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from dialer.traffic import AbandonMeter, TrafficStats


class DialMode(enum.StrEnum):
    PREVIEW = "preview"  # the operator sees the card first and starts the call
    PROGRESSIVE = "progressive"  # one line per ready operator
    PREDICTIVE = "predictive"


class Activity(enum.StrEnum):
    """What an operator logged into the campaign is doing (paused operators are left out)."""

    READY = "ready"
    TALKING = "talking"  # includes being offered/rung a call
    WRAP_UP = "wrap_up"


class CallStage(enum.StrEnum):
    RINGING = "ringing"  # dialled, not answered yet
    SCREENING = "screening"  # answered, answering-machine detection running
    WAITING = "waiting"  # a person is on the line and no operator yet


@dataclass(frozen=True, slots=True)
class AgentLoad:
    activity: Activity
    elapsed: float  # seconds in that activity


@dataclass(frozen=True, slots=True)
class LiveCall:
    stage: CallStage
    elapsed: float  # seconds in that stage


@dataclass(frozen=True, slots=True)
class PacingSnapshot:
    agents: tuple[AgentLoad, ...]
    calls: tuple[LiveCall, ...]

    @property
    def ready(self) -> int:
        return sum(a.activity is Activity.READY for a in self.agents)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacingPolicy:
    mode: DialMode = DialMode.PREDICTIVE
    target_abandon_rate: float = 0.03
    safety_margin: float = 0.005  # aim this far below the target
    max_lines_per_agent: float = 3.0  # all live calls, over operators logged in
    max_channels: int = 10_000  # trunk capacity
    abandon_grace_s: float = 2.0  # a person waits this long for an operator before it counts
    feedback_gain: float = 0.2  # log-change of the allowed share per live answer (x miss)
    min_answers: int = 100  # small windows count as this many answers when checking the target
    warm_up_dials: int = 50  # progressive until this many dials resolved: no guessing from priors

    def __post_init__(self) -> None:
        if not 0.0 < self.target_abandon_rate < 1.0:
            raise ValueError(
                f"target_abandon_rate must be within (0, 1): {self.target_abandon_rate}"
            )
        if not 0.0 <= self.safety_margin < self.target_abandon_rate:
            raise ValueError("safety_margin must be below the target abandon rate")
        if self.max_lines_per_agent < 1.0:
            raise ValueError("max_lines_per_agent must be at least 1")

    @property
    def goal(self) -> float:
        return self.target_abandon_rate - self.safety_margin


@dataclass(frozen=True, slots=True)
class PacingDecision:
    dials: int  # new calls to place now (preview: records to present to operators)
    reason: str
    expected_people: float = 0.0
    expected_free: float = 0.0
    risk_limit: float = 0.0


def uncovered_ready(snapshot: PacingSnapshot) -> int:
    """Ready operators without a live call of their own: what 1:1 pacing may dial."""
    return max(0, snapshot.ready - len(snapshot.calls))


class Pacer:
    """One campaign's pacing: the policy, what it learned, and its abandon record."""

    def __init__(
        self,
        policy: PacingPolicy,
        stats: TrafficStats | None = None,
        meter: AbandonMeter | None = None,
    ) -> None:
        self.policy = policy
        self.stats = stats or TrafficStats()
        self.meter = meter or AbandonMeter()
        self._log_gain = 0.0

    @property
    def risk_limit(self) -> float:
        """The highest abandon risk the next predictive call may carry."""
        return self.policy.goal * math.exp(self._log_gain)

    def live_answer(self, at: float, abandoned: bool) -> None:
        """Record a person answering (at epoch second `at`) and whether an operator took it."""
        self.meter.record(at, abandoned)
        miss = self.policy.goal - (1.0 if abandoned else 0.0)
        self._log_gain = min(3.0, max(-6.0, self._log_gain + self.policy.feedback_gain * miss))

    def decide(self, snapshot: PacingSnapshot, now: float) -> PacingDecision:
        """How many calls to place at epoch second `now`."""
        p = self.policy
        cap = max(0, self._line_cap(snapshot) - len(snapshot.calls))
        floor = min(cap, uncovered_ready(snapshot))
        if p.mode is not DialMode.PREDICTIVE:
            return PacingDecision(floor, f"{p.mode}: one line per ready operator")
        if not snapshot.agents:
            return PacingDecision(0, "no operators logged in")
        if len(self.stats.answered) < p.warm_up_dials:
            return PacingDecision(
                floor, f"learning the list's answer rate: progressive for {p.warm_up_dials} dials"
            )
        worst = self.meter.worst_rate(now, p.min_answers)
        if worst >= p.target_abandon_rate:
            return PacingDecision(
                floor, f"abandon rate {worst:.2%} reached the target: progressive until it drops"
            )
        return self._predict(snapshot, floor, cap)

    def _line_cap(self, snapshot: PacingSnapshot) -> int:
        per_agent = math.floor(self.policy.max_lines_per_agent * len(snapshot.agents))
        return min(per_agent, self.policy.max_channels)

    def _predict(self, snapshot: PacingSnapshot, floor: int, cap: int) -> PacingDecision:
        s = self.stats
        horizon = s.connect_delay_s
        agent_horizon = horizon + self.policy.abandon_grace_s

        people_mean = people_var = 0.0
        for call in snapshot.calls:
            if call.stage is CallStage.WAITING:
                q = 1.0
            elif call.stage is CallStage.SCREENING:
                q = s.screening_turns_human(call.elapsed)
            else:
                q = s.ringing_turns_human(call.elapsed)
            people_mean += q
            people_var += q * (1.0 - q)

        free_mean = free_var = 0.0
        wrap_mean = s.wrap.mean
        for agent in snapshot.agents:
            if agent.activity is Activity.READY:
                q = 1.0
            elif agent.activity is Activity.WRAP_UP:
                q = s.wrap.ends_within(agent.elapsed, agent_horizon)
            else:
                q = s.talk.ends_within(agent.elapsed, agent_horizon - wrap_mean)
            free_mean += q
            free_var += q * (1.0 - q)

        limit = self.risk_limit
        per_dial = s.human_per_dial
        dials = 0
        for n in range(1, cap + 1):
            # the n-th new call, if a person, finds no operator when the people ahead of it
            # (in flight, and the n - 1 new calls) take every operator free by then
            mean_x = people_mean + (n - 1) * per_dial
            var = people_var + (n - 1) * per_dial * (1.0 - per_dial) + free_var
            risk = (
                _normal_sf((free_mean - mean_x - 0.5) / math.sqrt(var))
                if var > 1e-12
                else float(mean_x + 0.5 > free_mean)
            )
            if risk > limit:
                break
            dials = n
        dials = max(dials, floor)
        return PacingDecision(
            dials,
            f"predictive: {people_mean:.1f} people expected vs {free_mean:.1f} operators free "
            f"within {agent_horizon:.0f} s; risk limit per call {limit:.2%}",
            expected_people=people_mean,
            expected_free=free_mean,
            risk_limit=limit,
        )


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))
