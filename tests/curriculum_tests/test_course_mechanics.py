"""Issue 15, items 2, 4 and 5: how the shipped course assesses, completes, orders, times and
maps itself. Content rules are checked on the files; behaviour through services and pages."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import permissions
from accounts.models import Role
from assessments import services as assessment_services
from assessments.models import Assessment
from assessments.selectors import attempt_paper
from curriculum import selectors
from curriculum.content import CONTENT_DIR, IMAGE_KINDS, ContentError, course_read
from curriculum.models import (
    CompletionOverride,
    CompletionOverrideIsAppendOnly,
    CompletionSource,
    EtcDomain,
    LessonCompletion,
    LessonPage,
    ModulePage,
)
from curriculum.services import (
    curriculum_content_load,
    demo_course_ensure,
    lesson_completion_override,
    lesson_completion_record,
)
from labs.models import LabExercise, LabRun, LabRunStatus
from tests.factories import UserFactory, cohort_run_finished, lab_answers_for
from tests.lesson_pages import lesson_page_read

pytestmark = pytest.mark.django_db

# --- The content, read from the files ----------------------------------------------------


def test_keyed_positions_are_balanced_across_the_course():
    """No position is the safe guess: among single-choice questions with four options, no
    position is keyed in more than a third of them, and no quiz keys one position in all its
    single-choice questions; multiple-choice keys are not always the leading options."""
    course = course_read()
    positions = Counter()
    for module in course.modules:
        mine = []
        for question in module.quiz.questions:
            keyed = [i for i, option in enumerate(question.options) if option.get("correct")]
            if question.kind == "single_choice":
                mine.append(keyed[0])
                if len(question.options) == 4:
                    positions[keyed[0]] += 1
            elif question.kind == "multiple_choice":
                assert keyed != list(range(len(keyed))) or len(keyed) == len(question.options), (
                    f"{module.slug}: {question.title!r} keys the leading options"
                )
        if len(mine) >= 2:
            assert len(set(mine)) > 1, f"{module.slug}: every single-choice key at {mine[0]}"
    total = sum(positions.values())
    assert total >= 20
    assert max(positions.values()) <= total / 3, positions
    assert set(positions) == {0, 1, 2, 3}, positions


def test_every_module_quiz_has_an_image_native_question_on_a_library_study():
    for module in course_read().modules:
        images = [q for q in module.quiz.questions if q.kind in IMAGE_KINDS]
        assert images, f"{module.slug}: no image question"
        for question in images:
            assert question.image["study"] and question.image["segment"], question.title


def test_every_outcome_is_mapped_and_no_duration_is_typed_in():
    course = course_read()
    outcomes = [
        outcome
        for module in course.modules
        for outcome in [
            *module.outcomes,
            *(o for lesson in module.lessons for o in lesson.outcomes),
        ]
    ]
    assert len(outcomes) >= 70
    for outcome in outcomes:
        assert outcome["etc_domain"] in EtcDomain.values, outcome["text"]
        assert any(
            outcome[f"role_{role}"]
            for role in ("user", "purchaser", "clinical_collaborator", "developer")
        ), outcome["text"]
    for path in CONTENT_DIR.rglob("*.toml"):
        assert "estimated_minutes" not in path.read_text(), path


def test_an_untagged_outcome_and_a_typed_duration_are_refused(tmp_path):
    target = tmp_path / "content"
    target.mkdir()
    shutil.copy(CONTENT_DIR / "course.toml", target)
    shutil.copytree(CONTENT_DIR / "01-dicom", target / "01-dicom")
    lesson = next((target / "01-dicom").glob("01-*.toml"))
    original = lesson.read_text()
    lesson.write_text(original.replace('etc_domain = "standards"\n', "", 1))
    with pytest.raises(ContentError, match="missing etc_domain"):
        course_read(target)
    lesson.write_text(original.replace('roles = ["user"', 'roles = ["radiographer"', 1))
    with pytest.raises(ContentError, match="roles are some of"):
        course_read(target)
    lesson.write_text("estimated_minutes = 20\n" + original)
    with pytest.raises(ContentError, match="durations are computed"):
        course_read(target)


# --- Loading: order, skipped pages, shuffled quizzes ----------------------------------------


def test_a_fresh_install_opens_with_the_first_module(people):
    """The demo set-up loads "Where AI fails" first; the full load still puts the modules
    (and their lessons) in the content's order."""
    demo_course_ensure()
    course, _report = curriculum_content_load()
    modules = list(ModulePage.objects.child_of(course).order_by("path"))
    assert [m.slug for m in modules] == [m.slug for m in course_read().modules]
    where = ModulePage.objects.get(slug="where-ai-fails")
    lessons = list(
        LessonPage.objects.child_of(where).order_by("path").values_list("slug", flat=True)
    )
    assert lessons[0] == "when-noise-breaks-a-model"
    progress = selectors.course_progress(user=people["resident"], course=course)
    assert progress.next_lesson.get_parent().slug == modules[0].slug
    assert progress.modules[0].module.slug == "dicom-and-the-information-model"


def test_curriculum_load_prints_every_page_it_skipped(people):
    _course, _report = curriculum_content_load()
    lesson = LessonPage.objects.get(slug="dicomweb")
    lesson.summary = "An educator's better summary."
    lesson.save_revision().publish()
    module = ModulePage.objects.get(slug="explainable-ai")
    module.summary = "Edited in the admin."
    module.save_revision().publish()
    out = io.StringIO()
    call_command("curriculum_load", stdout=out)
    printed = out.getvalue()
    assert "kept an educator's edit (file not applied): 01-dicom/03-dicomweb.toml" in printed
    assert "kept an educator's edit (file not applied): 06-explainable-ai/module.toml" in printed
    assert printed.count("kept an educator's edit") == 2
    lesson.refresh_from_db()
    assert lesson.summary == "An educator's better summary."


def test_each_attempt_draws_and_keeps_its_own_option_order(people):
    curriculum_content_load()
    quiz = Assessment.objects.get(title="Where AI fails")
    assert quiz.shuffle_options
    resident = people["resident"]
    course = quiz.course
    from accounts.services import enrolment_create

    enrolment_create(user=resident, course=course)
    orders = set()
    for _ in range(6):
        attempt = assessment_services.attempt_start(assessment=quiz, user=resident)
        stored = attempt.option_orders
        first_choice = next(
            item for item in attempt_paper(attempt=attempt) if item.question.kind == "single_choice"
        )
        # The paper shows the stored order, and shows it again on the next read.
        assert [i for i, _text in first_choice.options] == stored[str(first_choice.question.pk)]
        assert (
            attempt_paper(attempt=attempt)[0].options == attempt_paper(attempt=attempt)[0].options
        )
        orders.add(tuple(stored[str(first_choice.question.pk)]))
        assessment_services.attempt_submit(attempt=attempt)
    # Six draws of four options all alike would happen once in 24**5 runs.
    assert len(orders) > 1


# --- Completion --------------------------------------------------------------------------


@pytest.fixture
def lab_lesson(people):
    """The demo lesson (it embeds a lab) whose lab asks one question; resident enrolled."""
    from accounts.services import enrolment_create

    lesson = demo_course_ensure()
    exercise = lesson.body[1].value["exercise"]
    exercise.questions = [("question", "Where did the model fail first?")]
    exercise.save()
    enrolment_create(user=people["resident"], course=selectors.course_of(lesson))
    return lesson, LabExercise.objects.get(pk=exercise.pk)


def _run(lesson, exercise, user, **fields):
    return LabRun.objects.create(
        exercise=exercise, user=user, lesson=lesson, status=LabRunStatus.SUCCEEDED, **fields
    )


def test_a_lab_lesson_completes_only_when_the_lab_ran_and_its_questions_were_answered(
    client, lab_lesson, people
):
    lesson, exercise = lab_lesson
    resident = people["resident"]
    client.force_login(resident)
    # No way round it: "mark complete" is refused and not offered.
    assert not permissions.may(resident, "curriculum.mark_lesson_complete", lesson)
    assert client.post(reverse("curriculum:lesson_complete", args=[lesson.pk])).status_code == 403
    page = lesson_page_read(client, lesson.url).content.decode()
    assert "Mark complete" not in page and "questions answered in the lab" in page
    # A hand-made record from before would not count either.
    lesson_completion_record(user=resident, lesson=lesson)
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
    run = _run(lesson, exercise, resident)
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
    question_id = exercise.question_prompts[0][0]
    run.answers = {question_id: {"prompt": "Where?", "answer": "   "}}
    run.save()
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
    run.answers = {question_id: {"prompt": "Where?", "answer": "At the fat-muscle border."}}
    run.save()
    # The lesson's other labs (the shipped lesson has more than one) are done the same way.
    for _block_type, other in selectors.lesson_exercises(lesson):
        if other.pk != exercise.pk:
            assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
            _run(
                lesson,
                other,
                resident,
                answers={
                    qid: {"prompt": p, "answer": "Seen."} for qid, p in other.question_prompts
                },
            )
    assert selectors.lesson_is_completed(user=resident, lesson=lesson)
    # The gradebook counts it.
    work = selectors.course_lab_work(user=resident, course=selectors.course_of(lesson))
    labs_in_lesson = len(selectors.lesson_exercises(lesson))
    assert work.done == labs_in_lesson and work.total >= labs_in_lesson


COHORT_LESSON = "where-ai-fails/domain-shift-and-shortcuts"  # labs and a shortcut cohort lab


def _cohort_lesson(resident):
    """The shipped lesson with single-image labs and a cohort lab, the resident enrolled, and
    every lab that is not the cohort lab run with its questions answered."""
    from accounts.services import enrolment_create

    course, _report = curriculum_content_load(only_lessons={COHORT_LESSON})
    lesson = LessonPage.objects.live().descendant_of(course).get(slug=COHORT_LESSON.split("/")[1])
    enrolment_create(user=resident, course=course)
    cohort_exercise = None
    for block_type, exercise in selectors.lesson_exercises(lesson):
        if block_type == "cohort_lab":
            cohort_exercise = exercise
        else:
            assert block_type == "lab", block_type
            _run(lesson, exercise, resident, answers=lab_answers_for(exercise))
    assert cohort_exercise is not None and cohort_exercise.question_prompts
    return course, lesson, cohort_exercise


def _cohort_run(lesson, exercise, user, **fields):
    return cohort_run_finished(exercise=exercise, user=user, lesson=lesson, **fields)


def test_a_cohort_lab_counts_only_with_its_questions_answered_beside_the_result(client, people):
    """As for every other lab: the run succeeded and its questions were answered on it (the
    evaluation:run_answers form); the gradebook counts the cohort lab only then."""
    resident = people["resident"]
    course, lesson, exercise = _cohort_lesson(resident)
    labs_in_lesson = len(selectors.lesson_exercises(lesson))
    run = _cohort_run(lesson, exercise, resident)
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
    assert selectors.course_lab_work(user=resident, course=course).done == labs_in_lesson - 1
    prompts = exercise.question_prompts
    client.force_login(resident)
    # Half the questions answered, the rest blank: not yet.
    posted = {f"answer-{qid}": "The AUC fell." for qid, _prompt in prompts[:1]}
    response = client.post(reverse("evaluation:run_answers", args=[run.pk]), posted)
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.answers[prompts[0][0]]["answer"] == "The AUC fell."
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
    posted = {f"answer-{qid}": "From the curve and the worst cases." for qid, _p in prompts}
    client.post(reverse("evaluation:run_answers", args=[run.pk]), posted)
    assert selectors.lesson_is_completed(user=resident, lesson=lesson)
    assert selectors.course_lab_work(user=resident, course=course).done == labs_in_lesson
    # A failed run with answers would not have counted (the answers form refuses it anyway).
    other = UserFactory(role=Role.RESIDENT)
    _cohort_run(lesson, exercise, other, status="failed", answers=run.answers)
    assert not selectors.course_lab_work(user=other, course=course).done


@pytest.mark.django_db(transaction=True)
def test_cohort_lab_lessons_completed_before_the_answers_rule_stay_completed():
    """Migration 0008: a resident who completed a cohort-lab lesson when a succeeded run was
    enough keeps it (LEGACY); one who had not finished the lesson's other labs gains
    nothing from it."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from labs.models import LabRun
    from tests.factories import people_create

    people = people_create()
    finished, unfinished = people["resident"], UserFactory(role=Role.RESIDENT)
    _course, lesson, exercise = _cohort_lesson(finished)
    executor = MigrationExecutor(connection)
    executor.migrate([("curriculum", "0007_alter_lessonpage_body")])
    for resident in (finished, unfinished):
        _cohort_run(lesson, exercise, resident)  # its questions never answered
    # The unfinished resident ran one of the single-image labs without answering it.
    LabRun.objects.create(
        exercise=selectors.lesson_exercises(lesson)[-1][1],
        user=unfinished,
        lesson=lesson,
        status=LabRunStatus.SUCCEEDED,
    )
    assert not selectors.lesson_is_completed(user=finished, lesson=lesson)  # the new rule
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    completion = LessonCompletion.objects.get(user=finished, lesson=lesson)
    assert completion.source == CompletionSource.LEGACY
    assert selectors.lesson_is_completed(user=finished, lesson=lesson)
    assert not LessonCompletion.objects.filter(user=unfinished, lesson=lesson).exists()
    assert not selectors.lesson_is_completed(user=unfinished, lesson=lesson)


def test_an_educator_completes_a_lesson_the_platform_failed_and_it_is_audited(
    client, lab_lesson, people
):
    lesson, exercise = lab_lesson
    resident, educator = people["resident"], people["educator"]
    LabRun.objects.create(
        exercise=exercise, user=resident, lesson=lesson, status=LabRunStatus.FAILED
    )
    course = selectors.course_of(lesson)
    url = reverse("curriculum:resident_lessons", args=[course.pk, resident.pk])
    client.force_login(resident)
    assert client.post(url, {"lesson_id": lesson.pk, "reason": "mine"}).status_code == 403
    client.force_login(educator)
    assert "Complete for the resident" in client.get(url).content.decode()
    client.post(url, {"lesson_id": lesson.pk, "reason": ""})
    assert not selectors.lesson_is_completed(user=resident, lesson=lesson)
    response = client.post(url, {"lesson_id": lesson.pk, "reason": "Worker lost the run twice."})
    assert response.status_code == 302
    assert selectors.lesson_is_completed(user=resident, lesson=lesson)
    record = CompletionOverride.objects.get(resident=resident, lesson=lesson)
    assert record.educator == educator and record.reason == "Worker lost the run twice."
    assert "Worker lost the run twice." in client.get(url).content.decode()
    with pytest.raises(CompletionOverrideIsAppendOnly):
        record.delete()
    record.reason = "changed"
    with pytest.raises(CompletionOverrideIsAppendOnly):
        record.save()
    with pytest.raises(ValueError):
        lesson_completion_override(educator=educator, resident=resident, lesson=lesson, reason=" ")


def test_a_lesson_with_nothing_to_do_is_still_marked_complete(client, people):
    from tests.curriculum_tests.conftest import page_add

    lesson = demo_course_ensure()
    reading = page_add(lesson.get_parent(), LessonPage(title="Reading only", slug="reading"))
    from accounts.services import enrolment_create

    enrolment_create(user=people["resident"], course=selectors.course_of(lesson))
    client.force_login(people["resident"])
    response = client.post(reverse("curriculum:lesson_complete", args=[reading.pk]))
    assert response.status_code == 302
    assert selectors.lesson_is_completed(user=people["resident"], lesson=reading)


@pytest.mark.django_db(transaction=True)
def test_completions_and_certificates_issued_before_the_rule_are_kept():
    """Migration 0006 turns hand-marked completions into LEGACY ones, which keep counting
    although the lesson has a lab nobody ran; a certificate already issued stays."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from grading.models import Certificate
    from grading.selectors import course_requirements
    from tests.factories import people_create

    people = people_create()
    lesson = demo_course_ensure()
    resident = people["resident"]
    course = selectors.course_of(lesson)
    from accounts.services import enrolment_create

    enrolment_create(user=resident, course=course)
    # Before the rule: the resident marked the lab lesson complete by hand and was given the
    # course's certificate for it (the demo course has this one lesson).
    executor = MigrationExecutor(connection)
    executor.migrate([("curriculum", "0005_alter_lessonpage_body")])
    LessonCompletion.objects.create(user=resident, lesson=lesson, source=CompletionSource.MANUAL)
    certificate = Certificate.objects.create(
        user=resident,
        course=course,
        code="issued-before-the-rule",
        holder_name="Rhea",
        course_title=course.title,
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    completion = LessonCompletion.objects.get(user=resident, lesson=lesson)
    assert completion.source == CompletionSource.LEGACY
    assert selectors.lesson_has_work(LessonPage.objects.get(pk=lesson.pk))
    assert selectors.lesson_is_completed(user=resident, lesson=lesson)
    assert course_requirements(user=resident, course=course).lessons_met
    assert Certificate.objects.filter(pk=certificate.pk, user=resident).exists()


# --- Durations ----------------------------------------------------------------------------


def test_durations_come_from_words_and_the_median_time_residents_took(client, lab_lesson, people):
    lesson, exercise = lab_lesson
    duration = selectors.lesson_duration(lesson)
    assert duration.words > 50
    assert duration.reading_minutes == -(-duration.words // selectors.READING_WORDS_PER_MINUTE)
    labs_in_lesson = len(selectors.lesson_exercises(lesson))
    assert [lab.minutes for lab in duration.labs] == [
        selectors.LAB_MINUTES_DEFAULT
    ] * labs_in_lesson
    assert not duration.labs[0].is_measured
    # Three residents take 10, 20 and 40 minutes; an abandoned five-hour span is left out.
    start = timezone.now() - timedelta(days=1)
    for index, minutes in enumerate([10, 20, 40, 300]):
        user = UserFactory(username=f"timed{index}", role=Role.RESIDENT)
        run = _run(lesson, exercise, user)
        LabRun.objects.filter(pk=run.pk).update(
            created_at=start, finished_at=start + timedelta(minutes=minutes)
        )
    lab = selectors.lesson_duration(lesson).labs[0]
    assert lab.is_measured and lab.residents_timed == 3 and lab.minutes == 20
    client.force_login(people["resident"])
    page = lesson_page_read(client, lesson.url).content.decode()
    assert f"{duration.words} words" in page and "median of 3 residents" in page
    assert "200 words a minute" in page


# --- The mapping a programme director downloads -------------------------------------------


def test_the_mapping_downloads_as_neutralised_csv_and_as_json(client, people):
    course, _report = curriculum_content_load()
    lesson = LessonPage.objects.get(slug="dicomweb")
    outcome = lesson.outcomes.first()
    outcome.text = '=HYPERLINK("http://example.org")'
    outcome.save()
    client.force_login(people["resident"])
    assert client.get(reverse("curriculum:outcome_mapping", args=[course.pk])).status_code == 403
    client.force_login(people["educator"])
    page = client.get(reverse("curriculum:outcome_mapping", args=[course.pk])).content.decode()
    assert "Coverage per ESR curriculum topic" in page and "not covered" not in page
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    reverse("curriculum:outcome_mapping_csv", args=[course.pk])
                ).content.decode()
            )
        )
    )
    assert len(rows) == len(selectors.outcome_mapping(course=course)) >= 70
    assert '\'=HYPERLINK("http://example.org")' in {row["outcome"] for row in rows}
    assert all(row["esr_etc_topic"] in EtcDomain.values for row in rows)
    data = json.loads(
        client.get(reverse("curriculum:outcome_mapping_json", args=[course.pk])).content
    )
    assert {each["key"] for each in data["coverage"]} == set(EtcDomain.values)
    assert sum(each["outcomes"] for each in data["coverage"]) == len(rows)
    assert data["outcomes"][0]["roles"]


def test_the_course_page_states_the_level_it_serves(client, people):
    course, _report = curriculum_content_load()
    levels = selectors.course_levels(course=course)
    client.force_login(people["educator"])
    page = client.get(course.url).content.decode()
    assert f"{levels['III']} are stated at ESR level III" in page
    assert "not by itself a complete level III subspecialty training" in page
    assert reverse("curriculum:outcome_mapping", args=[course.pk]) in page
    client.force_login(people["resident"])
    assert (
        reverse("curriculum:outcome_mapping", args=[course.pk])
        not in client.get(course.url).content.decode()
    )
