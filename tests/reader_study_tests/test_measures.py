"""The reader study's numbers, checked by hand on scripted readers (issue 16's test), and
the design the pages state: matched arms, and exactly the stated share of wrong marks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from reader_study.cases import AIDED, UNAIDED
from reader_study.measures import suggestion_measures
from tests.reader_study_tests.matrix_support import exercise_embed, session_finish

# 20 cases per arm (10 with a lesion), 20 % wrong: 4 wrong marks, 2 missed lesions and 2
# false marks.
DEFAULT = {"cases_per_arm": 20, "wrong_share": 0.2}


@pytest.fixture
def study(demo_lesson):
    return exercise_embed(demo_lesson, **DEFAULT)


def test_arms_are_matched_and_the_stated_marks_are_wrong(demo_lesson, people, study):
    session = session_finish(
        user=people["resident"], exercise=study, lesson=demo_lesson, follows_ai=False
    )
    plan = session.plan
    assert [entry["arm"] for entry in plan] == [UNAIDED] * 20 + [AIDED] * 20
    for arm in (UNAIDED, AIDED):
        assert sum(entry["positive"] for entry in plan if entry["arm"] == arm) == 10
    organs = {arm: Counter(e["organ"] for e in plan if e["arm"] == arm) for arm in (UNAIDED, AIDED)}
    assert abs(organs[UNAIDED]["lung"] - organs[AIDED]["lung"]) <= 1
    assert not {e["case"] for e in plan if e["arm"] == UNAIDED} & {
        e["case"] for e in plan if e["arm"] == AIDED
    }
    wrong = [entry for entry in plan if entry["ai_wrong"]]
    assert (study.wrong_marks, study.missed_lesions, study.false_marks) == (4, 2, 2)
    assert sum(entry["positive"] and not entry["ai_lesion"] for entry in wrong) == 2
    assert sum(not entry["positive"] and entry["ai_lesion"] for entry in wrong) == 2
    # A mark is shown (a box) exactly where the AI suggests a lesion.
    assert all((entry["ai_box"] is not None) == entry["ai_lesion"] for entry in plan[20:])
    assert all(entry["ai_lesion"] is None for entry in plan[:20])


def test_a_reader_who_always_follows_the_ai(demo_lesson, people, study):
    """Perfect unaided (AUC 1); with AI, rates 5 where the AI marks and 1 elsewhere: of the
    10 lesions 8 get 5 and the 2 missed get 1; of the 10 lesion-free cases 8 get 1 and the 2
    falsely marked get 5. AUC = (8*8 wins + (8*2 + 2*8)/2 ties) / 100 = 0.80."""
    results = session_finish(
        user=people["resident"], exercise=study, lesson=demo_lesson, follows_ai=True
    ).results
    assert results["unaided"]["auc"]["value"] == 1.0
    assert results["unaided"]["auc"]["cases"] == 20
    assert results["unaided"]["accuracy"]["count"] == 20
    aided = results["aided"]
    assert aided["auc"]["value"] == pytest.approx(0.80)
    assert aided["auc"]["low"] < 0.80 < aided["auc"]["high"]
    assert aided["auc"]["high"] <= 1.0
    assert (aided["positives"], aided["negatives"]) == (10, 10)
    assert (aided["accuracy"]["count"], aided["accuracy"]["total"]) == (16, 20)
    suggestions = results["suggestions"]
    assert (suggestions["followed_wrong"]["count"], suggestions["followed_wrong"]["total"]) == (
        4,
        4,
    )
    assert suggestions["followed_wrong"]["value"] == 1.0
    assert (suggestions["overrode_correct"]["count"], suggestions["overrode_correct"]["total"]) == (
        0,
        16,
    )
    assert suggestions["accuracy_ai_wrong"]["value"] == 0.0
    assert suggestions["accuracy_ai_correct"]["value"] == 1.0


def test_a_reader_who_never_follows_the_ai(demo_lesson, people, study):
    """The same reader ignoring the marks: AUC 1 in both arms, no wrong mark followed."""
    results = session_finish(
        user=people["resident"], exercise=study, lesson=demo_lesson, follows_ai=False
    ).results
    for arm in ("unaided", "aided"):
        assert results[arm]["auc"]["value"] == 1.0
        # Every resample of a perfect reader is perfect: the interval is the point.
        assert (results[arm]["auc"]["low"], results[arm]["auc"]["high"]) == (1.0, 1.0)
    suggestions = results["suggestions"]
    assert (suggestions["followed_wrong"]["count"], suggestions["followed_wrong"]["total"]) == (
        0,
        4,
    )
    assert suggestions["overrode_correct"]["count"] == 0
    assert suggestions["accuracy_ai_wrong"]["value"] == 1.0


def test_overriding_a_correct_suggestion_is_counted():
    """Four cases: truth (L, L, -, -), AI says (L, -, -, L) so cases 2 and 4 are wrong; the
    reader calls (-, L, L, -): overrides correct cases 1 and 3, follows no wrong mark."""
    measures = suggestion_measures(
        ratings=np.array([1, 5, 4, 2]),
        positive=np.array([True, True, False, False]),
        ai_lesion=np.array([True, False, False, True]),
    )
    assert (measures["overrode_correct"]["count"], measures["overrode_correct"]["total"]) == (2, 2)
    assert (measures["followed_wrong"]["count"], measures["followed_wrong"]["total"]) == (0, 2)
    assert measures["accuracy_ai_correct"]["value"] == 0.0
    assert measures["accuracy_ai_wrong"]["value"] == 1.0
