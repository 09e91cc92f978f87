"""A resident's written answers to the questions a lab asks about its result, kept on the
run: one shape for every lab family ({question id: {"prompt", "answer"}})."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _


class AnswersRefused(ValueError):
    """The answers cannot be kept; the message says why, in words for the resident."""


def line_question_prompts(text: str) -> list[tuple[str, str]]:
    """(stable id, prompt) per non-empty line of an exercise's `questions` text. The id is
    drawn from the words: reordering keeps each answer with its question, rewording one
    retires its answers (kept with the old prompt)."""
    prompts = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return [(hashlib.sha256(prompt.encode()).hexdigest()[:12], prompt) for prompt in prompts]


def run_answers_collect(*, prompts: dict[str, str], answers: dict[str, str]) -> dict:
    """The answers to keep: one per current question, each with the prompt it answers (so it
    still reads right after the educator edits the question), stored as typed (escaped when
    shown) and limited in length."""
    if not prompts:
        raise AnswersRefused(_("This lab asks no questions."))
    kept = {}
    for question_id, prompt in prompts.items():
        answer = str(answers.get(question_id, "")).strip()
        if len(answer) > settings.LAB_RUN_ANSWER_MAX_CHARS:
            raise AnswersRefused(
                _("Please keep each answer under %(n)d characters.")
                % {"n": settings.LAB_RUN_ANSWER_MAX_CHARS}
            )
        kept[question_id] = {"prompt": prompt, "answer": answer}
    return kept


def run_answers_posted(*, data, prompts: list[tuple[str, str]]) -> dict[str, str]:
    """The answers a run page's form sent: one field `answer-<question id>` per question."""
    return {question_id: data.get(f"answer-{question_id}", "") for question_id, _prompt in prompts}


def run_answers_keep(*, run, answers: dict[str, str]):
    """Keep the answers to the run's exercise's questions on the run (any family whose run
    has `answers` and `answered_at`); AnswersRefused says why they cannot be kept."""
    run.answers = run_answers_collect(prompts=dict(run.exercise.question_prompts), answers=answers)
    run.answered_at = timezone.now()
    run.save(update_fields=["answers", "answered_at"])
    return run


def run_answers_complete(*, prompts: list[tuple[str, str]], answers: dict | None) -> bool:
    """Every question asked (`prompts`: (question id, prompt)) has a non-blank answer kept
    in `answers` (a run's `answers`, in the shape run_answers_collect keeps); True when no
    question is asked. Callers pass `answers=run.answers`, or the column read with others."""
    answers = answers or {}
    return all(
        str(answers.get(question_id, {}).get("answer", "")).strip()
        for question_id, _prompt in prompts
    )


def run_answers_rows(*, prompts: list[tuple[str, str]], answers: dict) -> list[dict]:
    """The questions with this run's answers, for display; answers to since-removed
    questions are still shown (marked retired), with the prompt they answered."""
    rows = [
        {"id": qid, "prompt": prompt, "answer": answers.get(qid, {}).get("answer", "")}
        for qid, prompt in prompts
    ]
    current = {row["id"] for row in rows}
    rows += [
        {"id": qid, "prompt": kept["prompt"], "answer": kept["answer"], "retired": True}
        for qid, kept in answers.items()
        if qid not in current
    ]
    return rows
