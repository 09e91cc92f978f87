"""The one reader of a run's answers shape: whether every question asked is answered."""

from __future__ import annotations

from runs.answers import run_answers_collect, run_answers_complete

PROMPTS = [("q1", "Where did the model fail first?"), ("q2", "Why there?")]


def test_answers_are_complete_only_when_every_current_question_has_words():
    kept = run_answers_collect(
        prompts=dict(PROMPTS), answers={"q1": "At the border.", "q2": "Fat."}
    )
    assert run_answers_complete(prompts=PROMPTS, answers=kept)
    # A blank or missing answer, or no answers at all, is not complete.
    blank = {**kept, "q2": {"prompt": "Why there?", "answer": "   "}}
    assert not run_answers_complete(prompts=PROMPTS, answers=blank)
    assert not run_answers_complete(prompts=PROMPTS, answers={"q1": kept["q1"]})
    assert not run_answers_complete(prompts=PROMPTS, answers=None)
    # A question added after the run is asked too; one removed since no longer counts.
    assert not run_answers_complete(prompts=[*PROMPTS, ("q3", "And then?")], answers=kept)
    assert run_answers_complete(prompts=PROMPTS[:1], answers=kept)
    # A lab that asks nothing has nothing left to answer.
    assert run_answers_complete(prompts=[], answers=None)
