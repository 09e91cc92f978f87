"""Factories for test data: people by role, enrolled or not."""

import factory

from accounts.models import Role, User
from accounts.services import user_role_set

TEST_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda person: f"{person.username}@example.invalid")
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        user_role_set(user=self, role=extracted or Role.RESIDENT)


def people_create() -> dict:
    """One person per role (the outsider is a resident of no course)."""
    return {
        "resident": UserFactory(username="rhea", role=Role.RESIDENT),
        "outsider": UserFactory(username="otto", role=Role.RESIDENT),
        "educator": UserFactory(username="edda", role=Role.EDUCATOR),
        "examiner": UserFactory(username="ezra", role=Role.EXAMINER),
        "admin": UserFactory(username="ada", role=Role.ADMIN),
    }


def lab_answers_for(exercise) -> dict:
    """Answers to every question a lab exercise asks, as the lab keeps them on a run: a lab
    lesson completes only once its lab succeeded and its questions were answered."""
    return {
        question_id: {"prompt": prompt, "answer": "Answered in the lab."}
        for question_id, prompt in exercise.question_prompts
    }


def lab_run_answered(*, exercise, user, lesson):
    """A single-image lab's run as the lab leaves it once succeeded and its questions
    answered (made directly: completion tests need its row, not a model's seconds)."""
    from labs.models import LabRun, LabRunStatus

    return LabRun.objects.create(
        exercise=exercise,
        user=user,
        lesson=lesson,
        status=LabRunStatus.SUCCEEDED,
        answers=lab_answers_for(exercise),
    )


def lesson_labs_answered(*, lesson, user) -> None:
    """Every single-image lab the lesson embeds, run and answered by `user` (lab_run_answered)."""
    from curriculum.selectors import lesson_exercises

    for block_type, exercise in lesson_exercises(lesson):
        if block_type == "lab":
            lab_run_answered(exercise=exercise, user=user, lesson=lesson)


def cohort_run_finished(*, exercise, user, lesson, **fields):
    """A cohort run as the engine leaves it (succeeded unless `status` says otherwise), made
    directly: completion and gradebook tests need its row, not a sweep's minutes."""
    from evaluation.models import CohortRun

    fields.setdefault("status", "succeeded")
    return CohortRun.objects.create(
        exercise=exercise,
        user=user,
        lesson=lesson,
        kind=exercise.kind,
        model_key=exercise.model_key,
        cohort_key=exercise.cohort_key,
        case_count=exercise.case_count,
        **fields,
    )
