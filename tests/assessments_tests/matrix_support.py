"""Objects the role matrix (tests/test_role_matrix.py) needs for assessment URLs: a quiz of
the demo course, the matrix resident's attempt in progress, and a finished one of theirs.
Built on first use and cached in the matrix context `c`."""

from __future__ import annotations

from django.urls import reverse

from assessments import services
from tests.assessments_tests.builders import choice_question, quiz


def _quiz(c: dict):
    if "assessments_quiz" not in c:
        course = c["lesson"].get_parent().get_parent().specific
        c["assessments_quiz"] = quiz(
            [choice_question("Matrix question")],
            course=course,
            title="Matrix quiz",
            max_attempts=None,
        )
    return c["assessments_quiz"]


def _attempt(c: dict):
    if "assessments_attempt" not in c:
        c["assessments_attempt"] = services.attempt_start(
            assessment=_quiz(c), user=c["people"]["resident"]
        )
    return c["assessments_attempt"]


def _finished_attempt(c: dict):
    if "assessments_finished" not in c:
        attempt = _attempt(c)
        c["assessments_finished"] = services.attempt_submit(attempt=attempt)
        del c["assessments_attempt"]
    return c["assessments_finished"]


def url(name: str, need: str = ""):
    """A matrix URL function for `assessments:<name>`; `need` is "quiz", "attempt" (in
    progress), "finished" or "" (no argument). Answer URLs get position 0."""

    def build(c: dict) -> str:
        args = {
            "": lambda: [],
            "quiz": lambda: [_quiz(c).pk],
            "attempt": lambda: [_attempt(c).pk],
            "finished": lambda: [_finished_attempt(c).pk],
        }[need]()
        if name == "answer":
            args.append(0)
        return reverse(f"assessments:{name}", args=args)

    return build


def key_release_url(c: dict) -> str:
    """grading:answer_key_release for the matrix quiz (refused with a message: quizzes give
    their key at once; the matrix checks who may ask)."""
    return reverse("grading:answer_key_release", args=[_quiz(c).pk])


def answer_mark_url(c: dict) -> str:
    """assessments:answer_mark for the first answer of the resident's finished quiz attempt."""
    return reverse("assessments:answer_mark", args=[_finished_attempt(c).responses.get().pk])
