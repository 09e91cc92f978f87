"""A radiology worklist through one day, reordered (or not) by an AI score.

The model, in full:

- Studies arrive over a shift: either as a Poisson process (exponential gaps with mean
  60 / rate minutes) or on a fixed schedule (one every 60 / rate minutes, the first at 0).
- Each study has a reading time (fixed, exponential, or log-normal with a coefficient of
  variation of 0.5, all with the exercise's mean), a truth (critical finding or not, at
  the exercise's prevalence) and the AI's score for it (drawn from the model's real scores
  for its class, see `population`).
- `radiologists` identical readers take the next study from one shared worklist whenever
  they are free. Reading is not interrupted: a critical study that arrives while everyone
  is reading waits for the first reader to finish (non-pre-emptive priority queue).
- Which study is "next" is the policy:
  FIFO: earliest arrival first;
  FLAG: studies scoring >= threshold ("flagged") before all others, earliest arrival first
  within each group;
  PRIORITY: highest score first, earliest arrival breaking ties.
- Aging rule (optional, `aging_minutes`): a study that has waited `aging_minutes` or more
  when a reader becomes free is read next, the longest-waiting first, ahead of the policy's
  order. Under FLAG this is "promote to the flagged group" (promoted studies arrived before
  any un-promoted flag, so arrival order puts them first); it bounds how long the AI can
  starve an unflagged study, including a critical one the AI missed, to about the age
  limit plus the work already in progress. Under FIFO it changes nothing.
- A backlog (optional) is studies already on the worklist when the shift starts: they
  arrive at minute 0, so their time to report is counted from the start of the shift.
- A study that arrives at the instant a reader becomes free is on the worklist for that
  choice. Ties between studies that arrive together go to the lower index.
- Time to report = end of the read - arrival (the report is signed when the read ends);
  wait = start of the read - arrival. For the critical studies the AI missed (scored
  below the threshold) the tail matters more than the mean: a flag policy without an
  aging rule sends them to the back of the queue, so their 90th percentile and maximum
  are reported beside the mean.

Every policy replays the same day (same arrivals, reading times, truths and scores), so
differences between policies are the policy's alone. The cost of false positives is the
flag policy's mean time to report for critical studies minus the same day replayed with
the false flags removed (true flags kept): the delay that non-critical flagged studies,
jumping ahead, impose on the critical ones.
"""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

LOGNORMAL_CV = 0.5


class Policy(enum.StrEnum):
    FIFO = "fifo"
    FLAG = "flag"
    PRIORITY = "priority"


POLICY_TITLES = {
    Policy.FIFO: "First in, first out",
    Policy.FLAG: "Flagged studies first",
    Policy.PRIORITY: "Highest score first",
}


class ArrivalPattern(enum.StrEnum):
    POISSON = "poisson"
    FIXED = "fixed"


class ReadingTimeDistribution(enum.StrEnum):
    FIXED = "fixed"
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


class SimulationRefused(ValueError):
    """The parameters describe no day that can be simulated; the message says why."""


@dataclass(frozen=True)
class Study:
    arrival_min: float
    reading_min: float
    critical: bool
    score: float


@dataclass(frozen=True)
class StudyOutcome:
    index: int
    arrival_min: float
    start_min: float
    finish_min: float
    critical: bool
    flagged: bool
    promoted: bool = False  # read early by the aging rule

    @property
    def wait_min(self) -> float:
        return self.start_min - self.arrival_min

    @property
    def time_to_report_min(self) -> float:
        return self.finish_min - self.arrival_min


def _order_key(study: Study, index: int, *, policy: Policy, threshold: float) -> tuple:
    if policy is Policy.FIFO:
        return (study.arrival_min, index)
    if policy is Policy.FLAG:
        return (0 if study.score >= threshold else 1, study.arrival_min, index)
    return (-study.score, study.arrival_min, index)


def worklist_simulate(
    *,
    studies: Sequence[Study],
    policy: Policy,
    threshold: float,
    radiologists: int,
    aging_minutes: float | None = None,
) -> list[StudyOutcome]:
    """Event-driven replay of the worklist; outcomes in the order of `studies`.

    Events are "a reader becomes free" (a heap of free times) and arrivals (in time order);
    at each free reader the aging rule, then the policy, picks from the studies that have
    arrived. Waiting studies sit in two heaps, by the policy's key and by arrival; a study
    taken from one is skipped lazily in the other.
    """
    if radiologists < 1:
        raise SimulationRefused("At least one radiologist must read.")
    if aging_minutes is not None and aging_minutes <= 0:
        raise SimulationRefused("The aging limit must be a positive number of minutes.")
    policy = Policy(policy)
    arrivals = sorted(range(len(studies)), key=lambda i: (studies[i].arrival_min, i))
    free_at = [0.0] * radiologists
    heapq.heapify(free_at)
    by_policy: list[tuple[tuple, int]] = []
    by_arrival: list[tuple[float, int]] = []
    taken: set[int] = set()
    outcomes: dict[int, StudyOutcome] = {}
    next_arrival = 0
    while len(outcomes) < len(studies):
        now = heapq.heappop(free_at)
        if len(taken) == next_arrival:
            # Nothing waits: the reader is idle until the next study arrives.
            now = max(now, studies[arrivals[next_arrival]].arrival_min)
        while next_arrival < len(arrivals) and studies[arrivals[next_arrival]].arrival_min <= now:
            index = arrivals[next_arrival]
            key = _order_key(studies[index], index, policy=policy, threshold=threshold)
            heapq.heappush(by_policy, (key, index))
            heapq.heappush(by_arrival, (studies[index].arrival_min, index))
            next_arrival += 1
        while by_arrival and by_arrival[0][1] in taken:
            heapq.heappop(by_arrival)
        promoted = (
            aging_minutes is not None
            and bool(by_arrival)
            and now - by_arrival[0][0] >= aging_minutes
        )
        if promoted:
            _arrival, index = heapq.heappop(by_arrival)
        else:
            while by_policy[0][1] in taken:
                heapq.heappop(by_policy)
            _key, index = heapq.heappop(by_policy)
        taken.add(index)
        study = studies[index]
        finish = now + study.reading_min
        flagged = policy is Policy.FLAG and study.score >= threshold
        outcomes[index] = StudyOutcome(
            index=index,
            arrival_min=study.arrival_min,
            start_min=now,
            finish_min=finish,
            critical=study.critical,
            flagged=flagged,
            # Promoted only if the rule changed something: an aged flag was next anyway.
            promoted=promoted and not flagged and policy is not Policy.FIFO,
        )
        heapq.heappush(free_at, finish)
    return [outcomes[i] for i in range(len(studies))]


@dataclass(frozen=True)
class TimeSummary:
    """Times to report of a group of studies (minutes); None where the group is empty."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None  # numpy's default (linear interpolation between order statistics)
    max: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> TimeSummary:
        if len(values) == 0:
            return cls(count=0, mean=None, median=None, p90=None, max=None)
        array = np.asarray(values, dtype=float)
        return cls(
            count=len(array),
            mean=float(array.mean()),
            median=float(np.median(array)),
            p90=float(np.percentile(array, 90)),
            max=float(array.max()),
        )


@dataclass(frozen=True)
class PolicyResult:
    policy: Policy
    outcomes: list[StudyOutcome]
    critical: TimeSummary
    non_critical: TimeSummary
    # Critical studies the AI scored below the threshold (the same studies under every
    # policy; under FIFO and PRIORITY "missed" still means "would not have been flagged").
    missed_critical: TimeSummary
    promoted: int  # studies the aging rule read early

    @classmethod
    def of(
        cls, policy: Policy, outcomes: list[StudyOutcome], *, missed: Sequence[bool]
    ) -> PolicyResult:
        return cls(
            policy=policy,
            outcomes=outcomes,
            critical=TimeSummary.of([o.time_to_report_min for o in outcomes if o.critical]),
            non_critical=TimeSummary.of([o.time_to_report_min for o in outcomes if not o.critical]),
            missed_critical=TimeSummary.of(
                [o.time_to_report_min for o, m in zip(outcomes, missed, strict=True) if m]
            ),
            promoted=sum(o.promoted for o in outcomes),
        )


@dataclass(frozen=True)
class FlagCounts:
    flags: int  # studies scoring >= threshold
    true_flags: int  # ... that are critical
    false_flags: int  # ... that are not
    missed_critical: int  # critical studies below the threshold

    @property
    def flag_ppv(self) -> float | None:
        return self.true_flags / self.flags if self.flags else None


@dataclass(frozen=True)
class TriageComparison:
    results: dict[Policy, PolicyResult]
    flags: FlagCounts
    # Flag policy, critical studies: mean time to report minus the same with false flags
    # removed (minutes). None when the day has no critical study.
    false_positive_delay_min: float | None
    # Flag policy minus FIFO, mean time to report of non-critical studies (minutes).
    non_critical_delay_vs_fifo_min: float | None


def triage_compare(
    *,
    studies: Sequence[Study],
    threshold: float,
    radiologists: int,
    aging_minutes: float | None = None,
) -> TriageComparison:
    """The same day under every policy, with the counts and costs of the flags."""
    flagged = [s.score >= threshold for s in studies]
    missed = [s.critical and not f for s, f in zip(studies, flagged, strict=True)]

    def replay(day: Sequence[Study], policy: Policy) -> PolicyResult:
        outcomes = worklist_simulate(
            studies=day,
            policy=policy,
            threshold=threshold,
            radiologists=radiologists,
            aging_minutes=aging_minutes,
        )
        return PolicyResult.of(policy, outcomes, missed=missed)

    results = {policy: replay(studies, policy) for policy in Policy}
    true_flags = sum(1 for s, f in zip(studies, flagged, strict=True) if f and s.critical)
    counts = FlagCounts(
        flags=sum(flagged),
        true_flags=true_flags,
        false_flags=sum(flagged) - true_flags,
        missed_critical=sum(missed),
    )
    # Removing a false flag = scoring it below any threshold; true flags are untouched.
    without_false_flags = [
        replace(s, score=-math.inf) if s.score >= threshold and not s.critical else s
        for s in studies
    ]
    oracle = replay(without_false_flags, Policy.FLAG)
    flag = results[Policy.FLAG]
    fifo = results[Policy.FIFO]
    return TriageComparison(
        results=results,
        flags=counts,
        false_positive_delay_min=(
            flag.critical.mean - oracle.critical.mean if flag.critical.count else None
        ),
        non_critical_delay_vs_fifo_min=(
            flag.non_critical.mean - fifo.non_critical.mean if flag.non_critical.count else None
        ),
    )


def arrivals_draw(
    *,
    shift_minutes: float,
    arrivals_per_hour: float,
    pattern: ArrivalPattern,
    rng: np.random.Generator,
) -> np.ndarray:
    """Arrival times (minutes, ascending) in [0, shift_minutes)."""
    if arrivals_per_hour <= 0 or shift_minutes <= 0:
        raise SimulationRefused("The arrival rate and the shift length must be positive.")
    gap = 60.0 / arrivals_per_hour
    if ArrivalPattern(pattern) is ArrivalPattern.FIXED:
        return np.arange(0.0, shift_minutes, gap)
    times, now = [], float(rng.exponential(gap))
    while now < shift_minutes:
        times.append(now)
        now += float(rng.exponential(gap))
    return np.array(times)


def reading_times_draw(
    *,
    count: int,
    mean_minutes: float,
    distribution: ReadingTimeDistribution,
    rng: np.random.Generator,
) -> np.ndarray:
    """`count` reading times (minutes) with mean `mean_minutes`."""
    if mean_minutes <= 0:
        raise SimulationRefused("The mean reading time must be positive.")
    distribution = ReadingTimeDistribution(distribution)
    if distribution is ReadingTimeDistribution.FIXED:
        return np.full(count, float(mean_minutes))
    if distribution is ReadingTimeDistribution.EXPONENTIAL:
        return rng.exponential(mean_minutes, size=count)
    # Log-normal with mean m and CV c: sigma^2 = ln(1 + c^2), mu = ln(m) - sigma^2 / 2.
    sigma2 = math.log(1.0 + LOGNORMAL_CV**2)
    return rng.lognormal(math.log(mean_minutes) - sigma2 / 2, math.sqrt(sigma2), size=count)


def day_draw(
    *,
    shift_minutes: float,
    arrivals_per_hour: float,
    pattern: ArrivalPattern,
    reading_mean_minutes: float,
    reading_distribution: ReadingTimeDistribution,
    prevalence: float,
    positive_scores: np.ndarray,
    negative_scores: np.ndarray,
    seed: int,
    backlog: int = 0,
) -> list[Study]:
    """A day of studies, deterministic given `seed` (see the module docstring); `backlog`
    studies wait at minute 0 ahead of the shift's arrivals."""
    from reading_room.simulation.population import population_draw

    rng = np.random.default_rng(seed)
    arrivals = arrivals_draw(
        shift_minutes=shift_minutes, arrivals_per_hour=arrivals_per_hour, pattern=pattern, rng=rng
    )
    if backlog < 0:
        raise SimulationRefused("The backlog cannot be negative.")
    arrivals = np.concatenate([np.zeros(backlog), arrivals])
    if len(arrivals) == 0:
        raise SimulationRefused("No study arrives in this shift; raise the rate or the shift.")
    reading = reading_times_draw(
        count=len(arrivals),
        mean_minutes=reading_mean_minutes,
        distribution=reading_distribution,
        rng=rng,
    )
    cases = population_draw(
        positive_scores=positive_scores,
        negative_scores=negative_scores,
        prevalence=prevalence,
        size=len(arrivals),
        seed=int(rng.integers(2**31)),
    )
    return [
        Study(
            arrival_min=float(arrival),
            reading_min=float(minutes),
            critical=bool(critical),
            score=float(score),
        )
        for arrival, minutes, critical, score in zip(
            arrivals, reading, cases.positive, cases.scores, strict=True
        )
    ]
