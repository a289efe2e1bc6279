"""What the campaign's traffic looks like lately: answer and machine rates, ring, screening,
talk and wrap-up times, and the abandon rate over the legal windows.

Plain, synchronous learners fed by the dialer as calls resolve. Recent samples are kept (a
bounded window), so a campaign whose list changes character in the afternoon is followed.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass

DAY = 86_400.0


class Durations:
    """A sliding sample of durations with survival queries, falling back to a prior mean."""

    def __init__(self, prior_mean: float, size: int = 500, min_samples: int = 20) -> None:
        if prior_mean <= 0:
            raise ValueError(f"a prior mean duration must be positive, got {prior_mean}")
        self.prior_mean = prior_mean
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
        self._size = size
        self._min = min_samples

    def add(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self._recent.append(seconds)
        insort(self._sorted, seconds)
        if len(self._recent) > self._size:
            old = self._recent.popleft()
            del self._sorted[bisect_right(self._sorted, old) - 1]

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def mean(self) -> float:
        if len(self._recent) < self._min:
            return self.prior_mean
        return sum(self._recent) / len(self._recent)

    def survival(self, t: float) -> float:
        """P(duration > t)."""
        if len(self._sorted) < self._min:
            return 1.0 if t < self.prior_mean else 0.0
        return 1.0 - bisect_right(self._sorted, t) / len(self._sorted)

    def ends_within(self, elapsed: float, horizon: float) -> float:
        """P(it ends within `horizon` seconds | it has lasted `elapsed` seconds so far)."""
        if horizon <= 0:
            return 0.0
        alive = self.survival(elapsed)
        if alive <= 0.0:
            # outlived every sample: assume it ends at the mean rate from here on
            return min(1.0, horizon / self.mean)
        return max(0.0, min(1.0, (alive - self.survival(elapsed + horizon)) / alive))


class Share:
    """A proportion with a prior worth `weight` observations, over the most recent outcomes."""

    def __init__(self, prior: float, weight: float = 20.0, size: int = 1000) -> None:
        if not 0.0 <= prior <= 1.0:
            raise ValueError(f"a prior share must be within 0..1, got {prior}")
        self._prior = prior
        self._weight = weight
        self._recent: deque[bool] = deque(maxlen=size)
        self._hits = 0

    def add(self, hit: bool) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._hits -= self._recent[0]
        self._recent.append(hit)
        self._hits += hit

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def value(self) -> float:
        return (self._hits + self._prior * self._weight) / (len(self._recent) + self._weight)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrafficPrior:
    """Starting assumptions before the campaign has data of its own."""

    answer_rate: float = 0.3
    human_share: float = 0.8  # of answered calls, the part AMD says are people
    ring_answered_s: float = 8.0  # dial to answer, for answered calls
    ring_unanswered_s: float = 20.0  # dial to failure (busy, no answer, ...)
    screen_human_s: float = 2.5  # AMD time until "HUMAN"
    screen_machine_s: float = 4.0
    talk_s: float = 150.0
    wrap_s: float = 20.0


class TrafficStats:
    """Everything the predictive pacer learns from resolved calls."""

    def __init__(self, prior: TrafficPrior | None = None) -> None:
        p = prior or TrafficPrior()
        self.answered = Share(p.answer_rate)
        self.human = Share(p.human_share)
        self.ring_answered = Durations(p.ring_answered_s)
        self.ring_unanswered = Durations(p.ring_unanswered_s)
        self.screen_human = Durations(p.screen_human_s)
        self.screen_machine = Durations(p.screen_machine_s)
        self.talk = Durations(p.talk_s)
        self.wrap = Durations(p.wrap_s)

    def dial_resolved(self, answered: bool, ring_s: float) -> None:
        self.answered.add(answered)
        (self.ring_answered if answered else self.ring_unanswered).add(ring_s)

    def screened(self, human: bool, screen_s: float) -> None:
        self.human.add(human)
        (self.screen_human if human else self.screen_machine).add(screen_s)

    @property
    def human_per_dial(self) -> float:
        return self.answered.value * self.human.value

    @property
    def connect_delay_s(self) -> float:
        """Mean time from dialling to knowing a person is on the line."""
        return self.ring_answered.mean + self.screen_human.mean

    def ringing_turns_human(self, elapsed: float) -> float:
        """P(a call still ringing after `elapsed` s will be answered by a person)."""
        a = self.answered.value
        yes = a * self.ring_answered.survival(elapsed)
        no = (1.0 - a) * self.ring_unanswered.survival(elapsed)
        answered = yes / (yes + no) if yes + no > 0 else 0.0
        return answered * self.human.value

    def screening_turns_human(self, elapsed: float) -> float:
        """P(a call still in answering-machine detection after `elapsed` s is a person)."""
        h = self.human.value
        yes = h * self.screen_human.survival(elapsed)
        no = (1.0 - h) * self.screen_machine.survival(elapsed)
        return yes / (yes + no) if yes + no > 0 else h


class AbandonMeter:
    """Live answers and abandoned calls over rolling windows (24 h and 30 days by default).

    Counts are kept per minute, so thirty days cost at most 43,200 small buckets.
    """

    def __init__(self, windows_s: tuple[float, ...] = (DAY, 30 * DAY)) -> None:
        if not windows_s:
            raise ValueError("an abandon meter needs at least one window")
        self.windows_s = windows_s
        self._buckets: dict[float, deque[list[float]]] = {w: deque() for w in windows_s}
        self._sums: dict[float, list[int]] = {w: [0, 0] for w in windows_s}

    def record(self, at: float, abandoned: bool) -> None:
        """One live (human) answer at epoch second `at`; `abandoned` if no operator took it."""
        minute = at // 60 * 60
        for w in self.windows_s:
            buckets = self._buckets[w]
            if buckets and buckets[-1][0] == minute:
                bucket = buckets[-1]
            else:
                bucket = [minute, 0, 0]
                buckets.append(bucket)
            bucket[1] += 1
            bucket[2] += abandoned
            sums = self._sums[w]
            sums[0] += 1
            sums[1] += abandoned

    def counts(self, window_s: float, now: float) -> tuple[int, int]:
        """(live answers, abandoned) in the window ending at `now`."""
        buckets, sums = self._buckets[window_s], self._sums[window_s]
        while buckets and buckets[0][0] + 60 <= now - window_s:
            _, live, abandoned = buckets.popleft()
            sums[0] -= int(live)
            sums[1] -= int(abandoned)
        return sums[0], sums[1]

    def rate(self, window_s: float, now: float, min_answers: int = 0) -> float:
        """Abandoned / live answers; small samples count as `min_answers` answers."""
        live, abandoned = self.counts(window_s, now)
        base = max(live, min_answers)
        return abandoned / base if base else 0.0

    def worst_rate(self, now: float, min_answers: int = 0) -> float:
        return max(self.rate(w, now, min_answers) for w in self.windows_s)
