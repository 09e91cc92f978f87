"""The one place that answers "may this user do X to this thing".

Views, templates (through `navigation_for`) and Wagtail hooks ask here; nobody else looks at
`user.role`. `access_*_by_id` helpers fetch an object and check access in one step, raising
Http404 for objects the user may not know exist (a resident must not learn that another
resident's run number 41 exists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Enrolment, Role

if TYPE_CHECKING:
    from wagtail.models import Page

    from labs.models import LabExercise, LabRun

STAFF_ROLES = frozenset({Role.EDUCATOR, Role.EXAMINER, Role.ADMIN})
# Who may open other people's runs (lab, cohort, training, de-identification, reading room).
# Examiners are not among them: under blind marking they see a resident's runs only through
# the grading page, under the candidate code (grading.views.response_lab_run_output), never
# through a run list or a run page that names the owner.
RUN_OVERSEER_ROLES = frozenset({Role.EDUCATOR, Role.ADMIN})


def role_of(user) -> Role | None:
    """The user's role, or None for anonymous and inactive users."""
    if not user.is_authenticated or not user.is_active:
        return None
    return Role(user.role)


def is_staff_role(user) -> bool:
    return role_of(user) in STAFF_ROLES


def oversees_runs(user) -> bool:
    """Educators and programme admins may open anyone's runs; everyone else only their own."""
    return role_of(user) in RUN_OVERSEER_ROLES


def _own_runs_q(user) -> Q:
    """A filter over any run model: the runs this user may list (see `oversees_runs`)."""
    if oversees_runs(user):
        return Q()
    if role_of(user) is None:
        return Q(pk__in=[])
    return Q(user_id=user.pk)


def _may_view_run(user, run) -> bool:
    return role_of(user) is not None and (run.user_id == user.pk or oversees_runs(user))


def may_author(user) -> bool:
    """Educators and programme admins write curricula, labs and question banks."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


def may_upload_models(user) -> bool:
    """Educators and programme admins bring their own models (validated before use)."""
    return may_author(user)


def may_administer(user) -> bool:
    return role_of(user) == Role.ADMIN


def course_of(page: Page) -> Page | None:
    """The Curriculum page a page belongs to (itself included), or None outside courses."""
    from curriculum.models import CurriculumPage

    return (
        CurriculumPage.objects.ancestor_of(page, inclusive=True).first() if page.depth > 1 else None
    )


def is_enrolled(user, course: Page) -> bool:
    """Enrolled directly, or through a cohort that takes the course."""
    if not user.is_authenticated:
        return False
    return (
        Enrolment.objects.filter(user=user, course=course).exists()
        or course.cohorts.filter(members=user).exists()
    )


def may_view_page(user, page: Page) -> bool:
    """Pages outside a course are public; course pages need enrolment or a staff role."""
    course = course_of(page)
    if course is None:
        return True
    if is_staff_role(user):
        return True
    return role_of(user) == Role.RESIDENT and is_enrolled(user, course)


def may_start_lab(user, *, exercise: LabExercise, page: Page) -> bool:
    """Anyone who may read the lesson may run a lab the lesson embeds (and no other)."""
    from curriculum.selectors import lesson_lab_exercise_ids

    return (
        role_of(user) is not None
        and exercise.is_runnable
        and may_view_page(user, page)
        and exercise.pk in lesson_lab_exercise_ids(page)
    )


def may_view_lab_run(user, run: LabRun) -> bool:
    """Owners see their runs; educators and admins see everyone's. Examiners see a
    resident's run only inside the lab report they mark (blind marking)."""
    return _may_view_run(user, run)


def may_cancel_lab_run(user, run: LabRun) -> bool:
    return run.user_id == user.pk or may_administer(user)


def may_answer_lab_run(user, run: LabRun) -> bool:
    """Only the resident who ran it answers the questions about a run (it is their work)."""
    return run.user_id == user.pk


def lab_runs_visible_filter(user) -> Q:
    """A queryset filter equivalent to `may_view_lab_run` for lists."""
    return _own_runs_q(user)


def access_lab_run_by_id(
    user, run_pk: int, *, for_cancel: bool = False, for_answer: bool = False
) -> LabRun:
    """The run with this pk if the user may see it (and cancel or answer it, when asked),
    else 404."""
    from labs.models import LabRun

    try:
        run = LabRun.objects.select_related("exercise", "user").get(pk=run_pk)
    except LabRun.DoesNotExist:
        raise Http404(_("No such lab run.")) from None
    if for_answer:
        allowed = may_answer_lab_run(user, run)
    elif for_cancel:
        allowed = may_cancel_lab_run(user, run)
    else:
        allowed = may_view_lab_run(user, run)
    if not allowed:
        raise Http404(_("No such lab run."))
    return run


# --- Cohort labs (evaluation): robustness curves, measure it, shortcut ---------------------


def may_start_cohort_lab(user, *, exercise, page: Page) -> bool:
    """Anyone who may read the lesson may run a cohort lab the lesson embeds (and no other)."""
    from evaluation.selectors import lesson_cohort_exercise_ids

    return (
        role_of(user) is not None
        and exercise.is_published
        and may_view_page(user, page)
        and exercise.pk in lesson_cohort_exercise_ids(page)
    )


def may_view_cohort_run(user, run) -> bool:
    """Owners see their cohort runs; educators and admins see everyone's (not examiners)."""
    return _may_view_run(user, run)


def may_cancel_cohort_run(user, run) -> bool:
    return run.user_id == user.pk or may_administer(user)


def cohort_runs_visible_filter(user) -> Q:
    """A queryset filter equivalent to `may_view_cohort_run` for lists."""
    return _own_runs_q(user)


def access_cohort_run_by_id(user, run_pk: int, *, for_cancel: bool = False):
    """The cohort run with this pk if the user may see it (and cancel it, when asked), else
    404 (a resident must not learn that another resident's run exists)."""
    from evaluation.models import CohortRun

    run = CohortRun.objects.select_related("exercise", "user").filter(pk=run_pk).first()
    if run is None:
        raise Http404(_("No such cohort run."))
    allowed = may_cancel_cohort_run(user, run) if for_cancel else may_view_cohort_run(user, run)
    if not allowed:
        raise Http404(_("No such cohort run."))
    return run


# --- Curriculum delivery (issue 7) --------------------------------------------------------


def may_self_enrol(user, course: Page) -> bool:
    """Residents may enrol themselves in a course that allows it and they are not yet in."""
    return (
        role_of(user) == Role.RESIDENT
        and getattr(course, "self_enrolment_allowed", False)
        and not is_enrolled(user, course)
    )


def lesson_prerequisites_unmet(user, page: Page) -> list[Page]:
    """Modules a resident must complete before opening this lesson; staff are never held back.

    Empty for pages that are not lessons (a module page stays readable and lists what it
    needs) and for staff roles.
    """
    from curriculum.models import LessonPage, ModulePage
    from curriculum.selectors import unmet_prerequisites

    if role_of(user) != Role.RESIDENT or page.specific_class is not LessonPage:
        return []
    module = ModulePage.objects.filter(pk=page.get_parent().pk).first()
    if module is None:
        return []
    return unmet_prerequisites(user=user, module=module)


def may_open_lesson(user, page: Page) -> bool:
    """May view the page and has completed the modules its module requires."""
    return may_view_page(user, page) and not lesson_prerequisites_unmet(user, page)


def may_mark_lesson_complete(user, lesson: Page) -> bool:
    """Progress belongs to residents: one who may open the lesson may mark it complete."""
    return role_of(user) == Role.RESIDENT and may_open_lesson(user, lesson)


def may_view_own_progress(user) -> bool:
    return role_of(user) is not None


def may_view_course_progress(user, course: Page) -> bool:
    """Educators and programme admins see every resident's progress in a course."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


def navigation_for(user) -> list[tuple[str, str]]:
    """The top navigation entries (label, url) this user may follow."""
    items = [(_("Courses"), reverse("home"))]
    role = role_of(user)
    if role is None:
        return items
    items.append((_("My progress"), reverse("curriculum:my_progress")))
    items.append((_("Search lessons"), reverse("curriculum:search")))
    items.append((_("My lab runs"), reverse("labs:run_list")))
    items.append((_("De-identification lab"), reverse("deid_lab:attempt_list")))
    items.append((_("My cohort runs"), reverse("evaluation:run_list")))
    items.append((_("Build a model"), reverse("model_builder:home")))
    items.append((_("Reading room"), reverse("reading_room:run_list")))
    items.append((_("My grades"), reverse("grading:my_grades")))
    items.append((_("Quizzes and exams"), reverse("assessments:list")))
    if may_mark(user):
        items.append((_("Grading queue"), reverse("grading:queue")))
    if may_view_gradebook(user):
        items.append((_("Gradebook"), reverse("grading:gradebook_index")))
    if may_view_audit_log(user):
        items.append((_("Audit log"), reverse("grading:audit_log")))
    if role in {Role.EDUCATOR, Role.ADMIN}:
        items.append((_("Authoring"), reverse("wagtailadmin_home")))
        items.append((_("Study library"), reverse("study_list")))
        items.append((_("Uploaded models"), reverse("labs:uploaded_models")))
    if role == Role.ADMIN:
        items.append((_("Administration"), reverse("admin:index")))
    return items


# --- Studies (studies.models): per-course visibility of the study library -----------------


def studies_visible_filter(user) -> Q:
    """A filter over studies.Study: the studies this user may see.

    Staff roles see every study, quarantined ones included (they review them). A resident
    sees a published (not quarantined) study when it is made visible to a course the
    resident is enrolled in, directly or through a cohort. Anonymous users see none.
    """
    from studies.models import Study

    role = role_of(user)
    if role in STAFF_ROLES:
        return Q()
    if role != Role.RESIDENT:
        return Q(pk__in=[])
    through_courses = Study.objects.filter(
        Q(courses__enrolments__user=user) | Q(courses__cohorts__members=user)
    ).values("pk")
    return Q(is_quarantined=False, pk__in=through_courses)


def answer_key_series_filter() -> Q:
    """A filter over studies.Series: the answer keys of exams whose key is not released yet
    (assessments.selectors.exam_answer_key_series_uids). Keys are dedicated series: lessons
    never show them (studies.blocks.ViewerBlock refuses them as overlays)."""
    from assessments.selectors import exam_answer_key_series_uids

    keys = exam_answer_key_series_uids()
    return Q(series_instance_uid__in=keys) if keys else Q(pk__in=[])


def series_withheld_filter(user) -> Q:
    """A filter over studies.Series: series of visible studies withheld from this user now.

    An exam's image question is scored against a segmentation in the library. Residents
    (every resident: before, during and between attempts, and those not sitting the exam)
    must not reach it by any path until the key is released after the exam closes, so every
    DICOMweb search and retrieval, the viewer and lesson blocks leave it out (404, as if
    absent). Staff are never held back.
    """
    if role_of(user) != Role.RESIDENT:
        return Q(pk__in=[])
    return answer_key_series_filter()


def may_view_study(user, study) -> bool:
    """Whether this user may search, view and retrieve this study (see the filter above)."""
    from studies.models import Study

    return Study.objects.filter(studies_visible_filter(user), pk=study.pk).exists()


def may_store_studies(user) -> bool:
    """Educators and programme admins add studies (STOW-RS, PACS import)."""
    return may_author(user)


def may_store_without_deidentification(user) -> bool:
    """Only a programme admin may declare a source already de-identified (issue 3, item 4)."""
    return may_administer(user)


def may_change_study_courses(user) -> bool:
    """Educators and programme admins decide which courses see a study."""
    return may_author(user)


def access_study_by_uid(user, study_instance_uid: str):
    """The study with this UID if the user may see it, else Http404 (never 403: a resident
    must not learn that a study outside their courses exists)."""
    from studies.models import Study

    study = Study.objects.filter(
        studies_visible_filter(user), study_instance_uid=study_instance_uid
    ).first()
    if study is None:
        raise Http404(_("No such study."))
    return study


# --- Grading (grading app, issue 9) --------------------------------------------------------
# Marking is for examiners and programme admins; under blind marking nobody marking sees
# who wrote the answer (grading.selectors.candidate_label). Residents see only their own
# released marks; anything else is 404, so a resident cannot learn another's attempt exists.

MARKER_ROLES = frozenset({Role.EXAMINER, Role.ADMIN})
GRADEBOOK_ROLES = frozenset({Role.EDUCATOR, Role.EXAMINER, Role.ADMIN})


def may_mark(user) -> bool:
    """Work the grading queue: mark, release, decide regrades."""
    return role_of(user) in MARKER_ROLES


def may_moderate(user, marking) -> bool:
    """A moderator marks nothing of what they moderate: an examiner or admin, neither marker."""
    return may_mark(user) and not marking.marks.filter(examiner_id=user.pk).exists()


def may_view_gradebook(user) -> bool:
    """Every resident's grades in a course, and the CSV export."""
    return role_of(user) in GRADEBOOK_ROLES


def may_override_grades(user) -> bool:
    """Overrides are a programme decision: educators and programme admins."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


def may_view_audit_log(user) -> bool:
    return may_administer(user)


def may_view_resident_grades(user, resident) -> bool:
    """A resident sees their own grades; gradebook roles see everyone's."""
    return role_of(user) is not None and (user.pk == resident.pk or may_view_gradebook(user))


def access_attempt_feedback_by_id(user, attempt_pk: int):
    """A finished attempt whose released marks the user may read (its author, an educator
    or an admin), else 404. Examiners read answers through the blind marking pages instead."""
    from assessments.models import FINISHED_STATUSES, Attempt

    attempt = (
        Attempt.objects.select_related("assessment", "user")
        .filter(pk=attempt_pk, status__in=FINISHED_STATUSES)
        .first()
    )
    if attempt is None or role_of(user) is None:
        raise Http404(_("No such attempt."))
    if attempt.user_id != user.pk and role_of(user) not in {Role.EDUCATOR, Role.ADMIN}:
        raise Http404(_("No such attempt."))
    return attempt


def access_response_for_regrade_request(user, response_pk: int):
    """The author's own examiner-marked answer, for a regrade request; anything else 404."""
    from assessments.models import Response

    response = Response.objects.select_related("attempt", "question").filter(pk=response_pk).first()
    if response is None or role_of(user) != Role.RESIDENT or response.attempt.user_id != user.pk:
        raise Http404(_("No such answer."))
    return response


def may_claim_certificate(user) -> bool:
    return role_of(user) == Role.RESIDENT


def access_certificate_by_id(user, certificate_pk: int):
    """The holder, educators and admins may download a certificate's PDF; others get 404."""
    from grading.models import Certificate

    certificate = Certificate.objects.filter(pk=certificate_pk).first()
    if certificate is None or role_of(user) is None:
        raise Http404(_("No such certificate."))
    if certificate.user_id != user.pk and role_of(user) not in {Role.EDUCATOR, Role.ADMIN}:
        raise Http404(_("No such certificate."))
    return certificate


# --- Reading room (reading_room app, issue 8): triage and screening simulators -------------


def may_run_reading_room(user, *, exercise, page: Page) -> bool:
    """Anyone who may read the lesson may run (and prepare the scores of) an exercise the
    lesson embeds, and no other."""
    from reading_room.selectors import lesson_reading_room_exercise_ids

    return (
        role_of(user) is not None
        and exercise.is_published
        and may_view_page(user, page)
        and exercise.pk in lesson_reading_room_exercise_ids(page)
    )


def may_view_score_set_progress(user) -> bool:
    """Progress of a cohort's scoring holds no one's data: any signed-in user may watch it."""
    return role_of(user) is not None


def simulation_runs_visible_filter(user) -> Q:
    """Owners see their simulation runs; educators and admins see everyone's (not examiners)."""
    return _own_runs_q(user)


def access_simulation_run_by_id(user, run_pk: int):
    """The simulation run with this pk if the user may see it, else Http404."""
    from reading_room.models import SimulationRun

    run = (
        SimulationRun.objects.filter(simulation_runs_visible_filter(user), pk=run_pk)
        .select_related("exercise", "user", "lesson")
        .first()
    )
    if run is None:
        raise Http404(_("No such simulation run."))
    return run


# --- Reader study (reader_study app, issue 16): automation bias, measured on the resident --


def may_take_reader_study(user, *, exercise, page: Page) -> bool:
    """Anyone who may read the lesson may take a reader study the lesson embeds."""
    from reader_study.selectors import lesson_reader_study_exercise_ids

    return (
        role_of(user) is not None
        and exercise.is_published
        and may_view_page(user, page)
        and exercise.pk in lesson_reader_study_exercise_ids(page)
    )


def access_reader_session_by_id(user, session_pk: int):
    """The reader session if it is the user's own, else Http404.

    A reader study's ratings are the resident's own: no one else, staff included, opens
    them; educators see only the cohort's aggregate (`may_view_reader_study_cohort`).
    """
    from reader_study.models import ReaderSession

    session = (
        ReaderSession.objects.filter(pk=session_pk, user_id=user.pk)
        .select_related("exercise", "lesson")
        .first()
        if role_of(user) is not None
        else None
    )
    if session is None:
        raise Http404(_("No such reader study session."))
    return session


def may_view_reader_study_cohort(user) -> bool:
    """Educators and admins see a study's cohort aggregate (itself withheld below five)."""
    return oversees_runs(user)


# --- Assessments (assessments app, issue 9): quizzes, exams, attempts ----------------------


def may_view_assessment(user, assessment) -> bool:
    """Staff see every assessment; a resident sees a published one of a course they are in
    (or one that belongs to no course)."""
    role = role_of(user)
    if role in STAFF_ROLES:
        return True
    return role == Role.RESIDENT and may_take_assessment(user, assessment)


def may_take_assessment(user, assessment) -> bool:
    """Residents sit quizzes and exams; staff do not (their attempts would enter the
    statistics). The time and attempt rules are assessments.services' business."""
    if role_of(user) != Role.RESIDENT or not assessment.is_published:
        return False
    return assessment.course_id is None or is_enrolled(user, assessment.course)


def access_assessment_by_id(user, assessment_pk: int):
    """The assessment if the user may see it, else Http404."""
    from assessments.models import Assessment

    assessment = Assessment.objects.select_related("course").filter(pk=assessment_pk).first()
    if assessment is None or not may_view_assessment(user, assessment):
        raise Http404(_("No such assessment."))
    return assessment


def access_own_attempt_by_id(user, attempt_pk: int):
    """An attempt is its candidate's alone here (examiners see answers, blinded, in the
    grading app): anyone else gets Http404, staff included."""
    from assessments.models import Attempt

    attempt = (
        Attempt.objects.select_related("assessment", "user")
        .filter(pk=attempt_pk, user_id=user.pk)
        .first()
        if role_of(user) is not None
        else None
    )
    if attempt is None:
        raise Http404(_("No such attempt."))
    return attempt


def may_view_assessment_statistics(user) -> bool:
    """Item statistics and score distributions are for educators and programme admins."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


def may_release_assessment_results(user) -> bool:
    """Educators and admins release an exam's automatic marks to its candidates."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


def may_release_answer_key(user) -> bool:
    """Educators and admins release an exam's answer key, once the exam has closed."""
    return role_of(user) in {Role.EDUCATOR, Role.ADMIN}


# --- No-code model building (model_builder) ----------------------------------------------


def may_build_models(user) -> bool:
    """Every signed-in person may build their own teaching models."""
    return role_of(user) is not None


def may_view_training_run(user, run) -> bool:
    """Owners see their trainings; educators and admins see everyone's (not examiners)."""
    return _may_view_run(user, run)


def may_cancel_training_run(user, run) -> bool:
    return run.user_id == user.pk or may_administer(user)


def access_training_run_by_id(user, run_pk: int, *, for_cancel: bool = False):
    """The training run if the user may see it (and cancel it, when asked), else Http404."""
    from model_builder.models import TrainingRun

    run = TrainingRun.objects.select_related("user").filter(pk=run_pk).first()
    if run is None:
        raise Http404(_("No such training run."))
    allowed = may_cancel_training_run(user, run) if for_cancel else may_view_training_run(user, run)
    if not allowed:
        raise Http404(_("No such training run."))
    return run


def may_view_model_card(user, model_key: str) -> bool:
    """Zoo and uploaded models' cards are for every signed-in user; the card of a model a
    resident trained ("trained-<training run pk>") names its owner and shows their labels'
    results, so it follows the training run: owner, educators and admins (404 otherwise)."""
    from model_builder.models import TrainingRun

    if role_of(user) is None:
        return False
    prefix, _sep, pk = model_key.partition("-")
    if prefix != "trained":
        return True
    run = TrainingRun.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
    return run is not None and may_view_training_run(user, run)


def access_labelled_cohort_by_id(user, cohort_pk: int):
    """A labelled cohort is its owner's alone (labels are their own work), else Http404."""
    from model_builder.models import LabelledCohort

    cohort = LabelledCohort.objects.filter(pk=cohort_pk).first()
    if cohort is None or role_of(user) is None or cohort.owner_id != user.pk:
        raise Http404(_("No such cohort."))
    return cohort


# --- De-identification lab (deid_lab) -------------------------------------------------------


def may_start_deid_exercise(user, *, exercise, page: Page) -> bool:
    """Anyone who may read the lesson may work on a de-identification exercise it embeds."""
    from deid_lab.selectors import lesson_deid_exercise_ids

    return (
        role_of(user) is not None
        and exercise.is_published
        and may_view_page(user, page)
        and exercise.pk in lesson_deid_exercise_ids(page)
    )


def may_view_deid_attempt(user, attempt) -> bool:
    """Owners see their attempts; educators and admins see everyone's (not examiners)."""
    return _may_view_run(user, attempt)


def may_work_on_deid_attempt(user, attempt) -> bool:
    """Only the resident who owns an attempt submits its findings and runs it."""
    return attempt.user_id == user.pk


def may_cancel_deid_attempt(user, attempt) -> bool:
    return attempt.user_id == user.pk or may_administer(user)


def deid_attempts_visible_filter(user) -> Q:
    """A queryset filter equivalent to `may_view_deid_attempt` for lists."""
    return _own_runs_q(user)


def access_deid_attempt_by_id(user, attempt_pk: int, *, for_action: str = "view"):
    """The attempt if the user may view it (or "work" on it, or "cancel" it), else Http404."""
    from deid_lab.models import DeidAttempt

    attempt = (
        DeidAttempt.objects.select_related("exercise", "user", "lesson")
        .filter(pk=attempt_pk)
        .first()
    )
    check = {
        "view": may_view_deid_attempt,
        "work": may_work_on_deid_attempt,
        "cancel": may_cancel_deid_attempt,
    }[for_action]
    if attempt is None or not check(user, attempt):
        raise Http404(_("No such de-identification attempt."))
    return attempt
