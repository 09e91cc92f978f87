"""The worklist simulator against a day small enough to work out by hand.

Five studies, one radiologist, every read takes 10 minutes; flag threshold 0.5:

    study  arrives  critical  score  flagged
    A        0        no      0.20     no
    B        1        no      0.30     no
    C        2        no      0.80     yes (a false flag)
    D        3        yes     0.90     yes
    E        4        yes     0.40     no  (a missed critical)

A is read 0-10 under every policy (nothing else has arrived at 0). At 10, B-E wait.

    policy       order after A   reads (start-end)            time to report A B C D E
    FIFO         B C D E         B 10-20 C 20-30 D 30-40 E 40-50   10 19 28 37 46
    flag         C D B E         C 10-20 D 20-30 B 30-40 E 40-50   10 39 18 27 46
    priority     D C E B         D 10-20 C 20-30 E 30-40 B 40-50   10 49 28 17 36
    flag without
    false flags  D B C E         D 10-20 B 20-30 C 30-40 E 40-50   10 29 38 17 46

Critical mean time to report: FIFO (37 + 46) / 2 = 41.5; flag (27 + 46) / 2 = 36.5;
priority (17 + 36) / 2 = 26.5; flag without false flags (17 + 46) / 2 = 31.5, so the false
flag (C) costs the critical studies 36.5 - 31.5 = 5 minutes on average.
Non-critical mean: FIFO (10 + 19 + 28) / 3 = 19; flag (10 + 39 + 18) / 3 = 22.33..., so
+3.33... minutes vs FIFO. Non-critical p90 under FIFO: numpy's linear interpolation over
(10, 19, 28): position 0.9 x 2 = 1.8 -> 19 + 0.8 x 9 = 26.2.

With two radiologists (FIFO): A 0-10 and B 1-11 start at once; C takes the reader free at
10 (10-20, TTR 18), D the one free at 11 (11-21, TTR 18), E the one free at 20 (20-30,
TTR 26).
"""

from __future__ import annotations

import numpy as np
import pytest

from reading_room.simulation.population import population_draw
from reading_room.simulation.triage import (
    ArrivalPattern,
    Policy,
    ReadingTimeDistribution,
    SimulationRefused,
    Study,
    day_draw,
    triage_compare,
    worklist_simulate,
)

DAY = [
    Study(arrival_min=0, reading_min=10, critical=False, score=0.2),  # A
    Study(arrival_min=1, reading_min=10, critical=False, score=0.3),  # B
    Study(arrival_min=2, reading_min=10, critical=False, score=0.8),  # C
    Study(arrival_min=3, reading_min=10, critical=True, score=0.9),  # D
    Study(arrival_min=4, reading_min=10, critical=True, score=0.4),  # E
]


def times_to_report(policy: Policy, radiologists: int = 1) -> list[float]:
    outcomes = worklist_simulate(
        studies=DAY, policy=policy, threshold=0.5, radiologists=radiologists
    )
    return [o.time_to_report_min for o in outcomes]


def test_fifo_reads_in_order_of_arrival():
    assert times_to_report(Policy.FIFO) == [10, 19, 28, 37, 46]


def test_flagged_studies_jump_the_queue_and_the_missed_critical_waits():
    assert times_to_report(Policy.FLAG) == [10, 39, 18, 27, 46]


def test_priority_by_score_reads_the_highest_score_first():
    assert times_to_report(Policy.PRIORITY) == [10, 49, 28, 17, 36]


def test_two_radiologists_share_the_worklist():
    assert times_to_report(Policy.FIFO, radiologists=2) == [10, 10, 18, 18, 26]


def test_waits_are_start_minus_arrival():
    outcomes = worklist_simulate(studies=DAY, policy=Policy.FLAG, threshold=0.5, radiologists=1)
    assert [o.wait_min for o in outcomes] == [0, 29, 8, 17, 36]
    assert [o.flagged for o in outcomes] == [False, False, True, True, False]


def test_summaries_and_the_cost_of_the_false_flag():
    comparison = triage_compare(studies=DAY, threshold=0.5, radiologists=1)
    fifo, flag = comparison.results[Policy.FIFO], comparison.results[Policy.FLAG]
    assert fifo.critical.mean == 41.5
    assert flag.critical.mean == 36.5
    assert comparison.results[Policy.PRIORITY].critical.mean == 26.5
    assert fifo.non_critical.mean == 19
    assert fifo.non_critical.median == 19
    assert fifo.non_critical.p90 == pytest.approx(26.2)
    assert flag.non_critical.mean == pytest.approx(67 / 3)
    assert comparison.false_positive_delay_min == 5
    assert comparison.non_critical_delay_vs_fifo_min == pytest.approx(67 / 3 - 19)
    flags = comparison.flags
    assert (flags.flags, flags.true_flags, flags.false_flags, flags.missed_critical) == (2, 1, 1, 1)
    assert flags.flag_ppv == 0.5


# --- Properties -----------------------------------------------------------------------------


def random_day(seed: int, rate: float = 14.0) -> list[Study]:
    rng = np.random.default_rng(seed)
    return day_draw(
        shift_minutes=480,
        arrivals_per_hour=rate,
        pattern=ArrivalPattern.POISSON,
        reading_mean_minutes=4.0,
        reading_distribution=ReadingTimeDistribution.LOGNORMAL,
        prevalence=0.15,
        positive_scores=rng.beta(5, 2, size=50),
        negative_scores=rng.beta(2, 5, size=50),
        seed=seed,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_threshold_above_every_score_flags_nothing_and_equals_fifo(seed):
    day = random_day(seed)
    fifo = worklist_simulate(studies=day, policy=Policy.FIFO, threshold=2.0, radiologists=2)
    flag = worklist_simulate(studies=day, policy=Policy.FLAG, threshold=2.0, radiologists=2)
    assert fifo == flag


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_policy_reads_every_study_once_and_never_before_it_arrives(seed):
    day = random_day(seed)
    for policy in Policy:
        outcomes = worklist_simulate(studies=day, policy=policy, threshold=0.5, radiologists=2)
        assert len(outcomes) == len(day)
        assert all(o.start_min >= o.arrival_min for o in outcomes)
        for o, study in zip(outcomes, day, strict=True):
            assert o.finish_min - o.start_min == pytest.approx(study.reading_min)
        # Never more than two reads at once: sweep the start/end events.
        events = sorted(
            [(o.start_min, 1) for o in outcomes] + [(o.finish_min, -1) for o in outcomes]
        )
        busy = np.cumsum([change for _time, change in sorted(events, key=lambda e: (e[0], e[1]))])
        assert busy.max() <= 2


def test_with_no_queue_every_policy_gives_the_same_times():
    sparse = [
        Study(arrival_min=20.0 * i, reading_min=5, critical=i % 2 == 0, score=i / 10)
        for i in range(6)
    ]
    expected = [5.0] * 6
    for policy in Policy:
        assert [
            o.time_to_report_min
            for o in worklist_simulate(studies=sparse, policy=policy, threshold=0.3, radiologists=1)
        ] == expected


def test_the_same_seed_gives_the_same_day_and_another_seed_another():
    assert random_day(7) == random_day(7)
    assert random_day(7) != random_day(8)


def test_the_day_holds_the_prevalence_asked_for():
    day = random_day(4, rate=20)
    assert sum(s.critical for s in day) == round(0.15 * len(day))


def test_fixed_schedule_spaces_arrivals_evenly():
    day = day_draw(
        shift_minutes=60,
        arrivals_per_hour=12,
        pattern=ArrivalPattern.FIXED,
        reading_mean_minutes=3,
        reading_distribution=ReadingTimeDistribution.FIXED,
        prevalence=0.5,
        positive_scores=np.array([0.9]),
        negative_scores=np.array([0.1]),
        seed=0,
    )
    assert [s.arrival_min for s in day] == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]
    assert {s.reading_min for s in day} == {3}
    assert {s.score for s in day if s.critical} == {0.9}


def test_lognormal_reading_times_have_the_mean_asked_for():
    from reading_room.simulation.triage import reading_times_draw

    times = reading_times_draw(
        count=20000,
        mean_minutes=6,
        distribution=ReadingTimeDistribution.LOGNORMAL,
        rng=np.random.default_rng(0),
    )
    assert times.mean() == pytest.approx(6, rel=0.02)
    assert times.std() / times.mean() == pytest.approx(0.5, rel=0.05)


def test_bad_parameters_are_refused_in_words():
    with pytest.raises(SimulationRefused, match="radiologist"):
        worklist_simulate(studies=DAY, policy=Policy.FIFO, threshold=0.5, radiologists=0)
    with pytest.raises(SimulationRefused, match="arrival rate"):
        random_day_with(rate=0)


def random_day_with(*, rate):
    return day_draw(
        shift_minutes=60,
        arrivals_per_hour=rate,
        pattern=ArrivalPattern.POISSON,
        reading_mean_minutes=3,
        reading_distribution=ReadingTimeDistribution.FIXED,
        prevalence=0.5,
        positive_scores=np.array([0.9]),
        negative_scores=np.array([0.1]),
        seed=0,
    )


def test_population_draw_is_seeded_and_uses_each_class_pool():
    pool_pos, pool_neg = np.array([0.7, 0.8, 0.9]), np.array([0.1, 0.2])
    first = population_draw(
        positive_scores=pool_pos, negative_scores=pool_neg, prevalence=0.3, size=10, seed=5
    )
    again = population_draw(
        positive_scores=pool_pos, negative_scores=pool_neg, prevalence=0.3, size=10, seed=5
    )
    assert np.array_equal(first.scores, again.scores)
    assert first.positive.sum() == 3
    assert set(first.scores[first.positive]) <= set(pool_pos)
    assert set(first.scores[~first.positive]) <= set(pool_neg)


# --- The aging rule and the tail of the missed critical studies -----------------------------
#
# A night where flags keep arriving behind a critical study the AI missed. One radiologist,
# every read 10 minutes, flag threshold 0.5, aging limit 15 minutes:
#
#     study  arrives  critical  score  flagged
#     A        0        no      0.90   yes (false)
#     B        1        yes     0.20   no  (missed by the AI)
#     C        2        no      0.80   yes (false)
#     D        3        no      0.70   yes (false)
#     E        4        yes     0.95   yes (true)
#
# Flag order, no aging: A 0-10; at 10 the flags C, D, E go first (by arrival): C 10-20,
# D 20-30, E 30-40, then B 40-50. Times to report A 10, B 49, C 18, D 27, E 36.
# Flag order, aging 15: A 0-10; at 10 B has waited 9 < 15, so C 10-20; at 20 B has waited
# 19 >= 15 and is read next (promoted): B 20-30; at 30 D (waited 27, the oldest) 30-40;
# E 40-50. Times A 10, B 29, C 18, D 37, E 46: the missed PE's wait falls from 49 to 29,
# the flagged PE behind it pays 10 minutes (36 -> 46). Only B was promoted (D was flagged).
# FIFO is the same with and without the rule: A 10, B 19, C 28, D 37, E 46.
# Missed critical (B alone) under the flag order: mean = p90 = max = 49 (no aging), 29.
# False flags removed (A, C, D unflagged): A 0-10 (alone), E 10-20, then B 20-30, C, D:
# critical mean (29 + 16) / 2 = 22.5, against (49 + 36) / 2 = 42.5 with the false flags, so
# they cost 20 minutes.

NIGHT = [
    Study(arrival_min=0, reading_min=10, critical=False, score=0.9),  # A
    Study(arrival_min=1, reading_min=10, critical=True, score=0.2),  # B
    Study(arrival_min=2, reading_min=10, critical=False, score=0.8),  # C
    Study(arrival_min=3, reading_min=10, critical=False, score=0.7),  # D
    Study(arrival_min=4, reading_min=10, critical=True, score=0.95),  # E
]


def night(policy: Policy, aging_minutes=None) -> list:
    return worklist_simulate(
        studies=NIGHT,
        policy=policy,
        threshold=0.5,
        radiologists=1,
        aging_minutes=aging_minutes,
    )


def test_flags_starve_the_pe_the_ai_missed():
    assert [o.time_to_report_min for o in night(Policy.FLAG)] == [10, 49, 18, 27, 36]


def test_the_aging_rule_reads_the_starved_study_once_it_has_waited_long_enough():
    outcomes = night(Policy.FLAG, aging_minutes=15)
    assert [o.time_to_report_min for o in outcomes] == [10, 29, 18, 37, 46]
    assert [o.promoted for o in outcomes] == [False, True, False, False, False]


def test_the_aging_rule_changes_nothing_first_in_first_out():
    plain = [o.time_to_report_min for o in night(Policy.FIFO)]
    aged = [o.time_to_report_min for o in night(Policy.FIFO, aging_minutes=15)]
    assert plain == aged == [10, 19, 28, 37, 46]


def test_the_tail_of_the_missed_pes_and_the_cost_of_false_flags():
    plain = triage_compare(studies=NIGHT, threshold=0.5, radiologists=1)
    flag = plain.results[Policy.FLAG]
    assert (flag.missed_critical.count, flag.missed_critical.p90, flag.missed_critical.max) == (
        1,
        49,
        49,
    )
    assert flag.critical.max == 49
    assert plain.false_positive_delay_min == pytest.approx(20.0)
    aged = triage_compare(studies=NIGHT, threshold=0.5, radiologists=1, aging_minutes=15)
    assert aged.results[Policy.FLAG].missed_critical.max == 29
    assert aged.results[Policy.FLAG].promoted == 1


def test_a_backlog_waits_at_the_start_of_the_shift():
    kwargs = dict(
        shift_minutes=60.0,
        arrivals_per_hour=6.0,
        pattern=ArrivalPattern.FIXED,
        reading_mean_minutes=5.0,
        reading_distribution=ReadingTimeDistribution.FIXED,
        prevalence=0.5,
        positive_scores=np.array([0.9]),
        negative_scores=np.array([0.1]),
        seed=3,
    )
    day = day_draw(**kwargs, backlog=4)
    # 4 waiting at minute 0, then the fixed schedule 0, 10, ..., 50.
    assert [s.arrival_min for s in day] == [0, 0, 0, 0, 0, 10, 20, 30, 40, 50]
    assert len(day) == len(day_draw(**kwargs)) + 4


def test_a_non_positive_aging_limit_is_refused():
    with pytest.raises(SimulationRefused, match="aging"):
        night(Policy.FLAG, aging_minutes=0)
