"""Every URL the project defines, for anonymous and each role, with the status expected.

A URL added to the project without a row here fails `test_every_url_is_in_the_matrix`.
Third-party URL trees (Django admin, Wagtail admin, Wagtail page serving) are owned as a
whole and represented by one URL each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Model
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from wagtail.models import Page

from accounts.services import enrolment_create
from curriculum.services import demo_course_ensure
from labs.models import LabRun, LabRunStatus
from labs.services import lab_run_create
from tests.api_tests import matrix_support as api
from tests.assessments_tests import matrix_support as assessments
from tests.deid_lab_tests.matrix_support import deid_create_data, deid_url
from tests.evaluation_tests.matrix_support import (
    cohort_run_create_data,
    cohort_run_create_url,
    cohort_run_url,
)
from tests.factories import people_create
from tests.grading_tests import matrix_support as grading
from tests.labs_tests import matrix_support as lab_matrix
from tests.lti_tests import matrix_support as lti
from tests.model_builder_tests import matrix_support as builder_matrix
from tests.reader_study_tests import matrix_support as reader_study
from tests.reading_room_tests import matrix_support as reading_room
from tests.reading_room_tests.matrix_support import reading_room_context
from tests.studies_tests.matrix_support import dicomweb_url, study_courses_url

LOGIN = "login"  # expected: redirected to the login page
WHO = ("anonymous", "resident", "outsider", "educator", "examiner", "admin")


@dataclass(frozen=True)
class Row:
    key: str  # URL name, or "<prefix>*" for a third-party tree
    method: str
    url: Callable[[dict], str]
    expected: dict[str, int | str]
    data: Callable[[dict], dict] | None = None
    settings: dict | None = None  # overridden for this row's requests only


def every(status):
    return dict.fromkeys(WHO, status)


def signed_in(status, anonymous=LOGIN):
    return {**every(status), "anonymous": anonymous}


MARKERS_200 = {"examiner": 200, "admin": 200}  # grading: who works the queue
GRADEBOOK_200 = {"educator": 200, "examiner": 200, "admin": 200}
# A run (lab, cohort, training, de-identification, reading room) is seen by its owner (the
# resident here), educators and admins. Examiners mark blind: they see a resident's run only
# through the grading page, under the candidate code, so every run page is 404 to them.
RUN_VIEWERS_200 = {**signed_in(200), "outsider": 404, "examiner": 404}
# Single sign-on configured (accounts.sso); its provider is never reached by these rows: the
# start only redirects to it, and a callback without a code is refused before any call.
SSO_ON = {
    "SSO_ENABLED": True,
    "OIDC_ISSUER": "https://idp.invalid",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.invalid/authorize",
    "OIDC_RP_CLIENT_ID": "artefact",
}


MATRIX = [
    Row("health", "get", lambda c: reverse("health"), every(200)),
    # The header's language switch: anyone may choose a language (a cookie, then back).
    Row(
        "set_language",
        "post",
        lambda c: reverse("set_language"),
        every(302),
        data=lambda c: {"language": "de", "next": "/"},
    ),
    Row("readiness", "get", lambda c: reverse("readiness"), every(200)),
    # Operations: programme admins (and a scraper's bearer token, tests/test_operations.py).
    Row("metrics", "get", lambda c: reverse("metrics"), {**every(403), "admin": 200}),
    Row(
        "admin_login_redirect",
        "get",
        lambda c: reverse("admin_login_redirect"),
        {**every(302), "anonymous": LOGIN},
    ),
    Row("home", "get", lambda c: reverse("home"), every(200)),
    Row("login", "get", lambda c: reverse("login"), every(200)),
    Row("logout", "post", lambda c: reverse("logout"), every(302)),
    # Single sign-on: to the provider for anyone; a callback without a code is a 400 page
    # for anyone (tests/accounts_tests/test_sso*.py: the flow and the unconfigured 404s).
    Row("sso_start", "get", lambda c: reverse("sso_start"), every(302), settings=SSO_ON),
    Row("sso_callback", "get", lambda c: reverse("sso_callback"), every(400), settings=SSO_ON),
    # Enrolment from a CSV: programme admins only; the POST confirms a file (re-read, all
    # rows or none; tests/accounts_tests/test_enrolment_csv.py has the rest).
    Row(
        "enrolment_import",
        "get",
        lambda c: reverse("enrolment_import"),
        {**signed_in(403), "admin": 200},
    ),
    Row(
        "enrolment_import",
        "post",
        lambda c: reverse("enrolment_import"),
        {**signed_in(403), "admin": 302},
        data=lambda c: {
            "content": f"user,course\n{c['people']['resident'].username},"
            f"{c['lesson'].get_parent().get_parent().slug}\n"
        },
    ),
    Row("password_change", "get", lambda c: reverse("password_change"), signed_in(200)),
    Row("password_change_done", "get", lambda c: reverse("password_change_done"), signed_in(200)),
    Row("labs:run_list", "get", lambda c: reverse("labs:run_list"), signed_in(200)),
    Row(
        "labs:run_create",
        "post",
        lambda c: reverse("labs:run_create", args=[c["exercise"].pk]),
        {**signed_in(302), "outsider": 403},
        data=lambda c: {"severity": "20", "lesson_id": c["lesson"].pk},
    ),
    Row(
        "labs:run_detail",
        "get",
        lambda c: reverse("labs:run_detail", args=[c["run"].pk]),
        RUN_VIEWERS_200,
    ),
    Row(
        "labs:run_status",
        "get",
        lambda c: reverse("labs:run_status", args=[c["run"].pk]),
        RUN_VIEWERS_200,
    ),
    Row(
        "labs:run_output",
        "get",
        lambda c: reverse("labs:run_output", args=[c["run"].pk, "original_image"]),
        RUN_VIEWERS_200,
    ),
    Row(
        "labs:run_cancel",
        "post",
        lambda c: reverse("labs:run_cancel", args=[c["run"].pk]),
        {**signed_in(302), "outsider": 404, "educator": 404, "examiner": 404},
    ),
    Row(
        "labs:run_file",
        "get",
        lab_matrix.run_file_url,
        RUN_VIEWERS_200,
    ),
    Row(
        "labs:run_answers",
        "post",
        lab_matrix.run_answers_url,
        {**signed_in(404), "resident": 302},
    ),
    Row(
        "django-admin/*",
        "get",
        lambda c: reverse("admin:index"),
        {**signed_in(302), "admin": 200},
    ),
    Row(
        "cms/*",
        "get",
        lambda c: reverse("wagtailadmin_home"),
        {**signed_in(302), "educator": 200, "admin": 200},
    ),
    Row(
        "wagtail-pages/*",
        "get",
        lambda c: c["lesson"].url,
        {**signed_in(200), "outsider": 403},
    ),
    # A lesson's reader's own parts (its lab, completion), fetched after the page: the same
    # readers as the page.
    Row(
        "wagtail-pages/*",
        "get",
        lambda c: c["lesson"].url + "reader-parts/",
        {**signed_in(200), "outsider": 403},
    ),
    Row(
        "curriculum:course_enrol",
        "post",
        lambda c: reverse(
            "curriculum:course_enrol", args=[c["lesson"].get_parent().get_parent().pk]
        ),
        {**every(403), "anonymous": LOGIN, "resident": 302, "outsider": 302},
    ),
    Row(
        "curriculum:course_progress",
        "get",
        lambda c: reverse(
            "curriculum:course_progress", args=[c["lesson"].get_parent().get_parent().pk]
        ),
        {**every(403), "anonymous": LOGIN, "educator": 200, "admin": 200},
    ),
    Row(
        "curriculum:resident_lessons",
        "get",
        lambda c: reverse(
            "curriculum:resident_lessons",
            args=[c["lesson"].get_parent().get_parent().pk, c["people"]["resident"].pk],
        ),
        {**every(403), "anonymous": LOGIN, "educator": 200, "admin": 200},
    ),
    *[
        Row(
            f"curriculum:{name}",
            "get",
            lambda c, name=name: reverse(
                f"curriculum:{name}", args=[c["lesson"].get_parent().get_parent().pk]
            ),
            {**every(403), "anonymous": LOGIN, "educator": 200, "admin": 200},
        )
        for name in ("outcome_mapping", "outcome_mapping_csv", "outcome_mapping_json")
    ],
    # The matrix's lesson embeds a lab: it completes by running it, so nobody may mark it
    # complete by hand (tests/curriculum_tests/test_course_mechanics.py has a lesson with
    # nothing to do, which its resident marks complete).
    Row(
        "curriculum:lesson_complete",
        "post",
        lambda c: reverse("curriculum:lesson_complete", args=[c["lesson"].pk]),
        {**every(403), "anonymous": LOGIN},
    ),
    Row(
        "curriculum:my_progress", "get", lambda c: reverse("curriculum:my_progress"), signed_in(200)
    ),
    Row(
        "curriculum:search",
        "get",
        lambda c: reverse("curriculum:search") + "?q=noise",
        every(200),
    ),
    # DICOMweb (studies.dicomweb): clients get 401 with a Basic challenge, not a login
    # page; a resident outside every course that sees the study gets 404 for it, and an
    # empty answer from searches.
    *[
        Row(f"dicomweb:{name}", "get", dicomweb_url(name, **extra), {**signed_in(200, 401), **who})
        for name, extra, who in [
            ("studies", {}, {}),
            ("series_search", {}, {}),
            ("instance_search", {}, {}),
            ("study", {}, {"outsider": 404}),
            ("study_metadata", {}, {"outsider": 404}),
            ("study_thumbnail", {}, {"outsider": 404}),
            ("study_series", {}, {"outsider": 404}),
            ("study_instances", {}, {"outsider": 404}),
            ("series", {}, {"outsider": 404}),
            ("series_metadata", {}, {"outsider": 404}),
            ("series_thumbnail", {}, {"outsider": 404}),
            ("series_instances", {}, {"outsider": 404}),
            ("instance", {}, {"outsider": 404}),
            ("instance_metadata", {}, {"outsider": 404}),
            ("instance_rendered", {}, {"outsider": 404}),
            ("instance_thumbnail", {}, {"outsider": 404}),
            ("instance_frames", {"frames": "1"}, {"outsider": 404}),
            ("frames_rendered", {"frames": "1"}, {"outsider": 404}),
            ("instance_bulkdata", {"tag": "7FE00010"}, {"outsider": 404}),
            ("unknown_resource", {"rest": "nonsense"}, {**signed_in(404, 401)}),
        ]
    ],
    # Storing (STOW-RS) is for educators and admins; declaring a source already
    # de-identified is the admin's alone (the empty body then fails on its media type).
    Row(
        "dicomweb:studies",
        "post",
        lambda c: reverse("dicomweb:studies") + "?already-deidentified=true",
        {**signed_in(403, 401), "admin": 415},
    ),
    Row(
        "study_import",
        "get",
        lambda c: reverse("study_import"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "study_list",
        "get",
        lambda c: reverse("study_list"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "study_courses",
        "get",
        study_courses_url,
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "labs:model_card",
        "get",
        lambda c: reverse("labs:model_card", args=["ct-lesion"]),
        signed_in(200),
    ),
    # A resident's trained model's card follows the training run (owner, educators, admins);
    # the matrix's run has no model archive, so even they get 404 (no usable model). The
    # card of a really trained model: tests/labs_tests/test_trained_model_card.py.
    Row(
        "labs:model_card",
        "get",
        lambda c: reverse("labs:model_card", args=[builder_matrix.trained_model_key(c)]),
        signed_in(404),
    ),
    Row(
        "labs:uploaded_models",
        "get",
        lambda c: reverse("labs:uploaded_models"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "labs:uploaded_model_create",
        "get",
        lambda c: reverse("labs:uploaded_model_create"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    # Cohort labs (evaluation): a resident's run is theirs; educators and admins see every run.
    Row("evaluation:run_list", "get", lambda c: reverse("evaluation:run_list"), signed_in(200)),
    Row(
        "evaluation:run_create",
        "post",
        cohort_run_create_url,
        {**signed_in(302), "outsider": 403},
        data=cohort_run_create_data,
    ),
    *[
        Row(
            f"evaluation:{name}",
            "get",
            cohort_run_url(name, *extra),
            RUN_VIEWERS_200,
        )
        for name, extra in [
            ("run_detail", ()),
            ("run_status", ()),
            ("measure", ()),
            ("measure_live", ()),
            ("roc_plot", ()),
            ("reliability_plot", ()),
            ("robustness_plot", ()),
            ("worst_case_picture", (1, "before_image")),
            ("cases_csv", ()),
            ("summary_csv", ()),
        ]
    ],
    Row(
        "evaluation:run_cancel",
        "post",
        cohort_run_url("run_cancel"),
        {**signed_in(302), "outsider": 404, "educator": 404, "examiner": 404},
    ),
    Row(
        "evaluation:run_answers",
        "post",
        cohort_run_url("run_answers"),
        {**signed_in(404), "resident": 302},
    ),
    # No-code model building: every signed-in person builds their own models; a training
    # run is seen by its owner, educators and admins, cancelled by its owner and admins; a labelled
    # cohort is its owner's alone.
    Row("model_builder:home", "get", lambda c: reverse("model_builder:home"), signed_in(200)),
    Row(
        "model_builder:run_create",
        "post",
        lambda c: reverse("model_builder:run_create"),
        signed_in(302),
        data=builder_matrix.training_form_data,
    ),
    Row(
        "model_builder:run_detail",
        "get",
        builder_matrix.training_run_url("run_detail"),
        RUN_VIEWERS_200,
    ),
    Row(
        "model_builder:run_status",
        "get",
        builder_matrix.training_run_url("run_status"),
        RUN_VIEWERS_200,
    ),
    Row(
        "model_builder:run_curves",
        "get",
        builder_matrix.training_run_url("run_curves"),
        RUN_VIEWERS_200,
    ),
    Row(
        "model_builder:run_cancel",
        "post",
        builder_matrix.training_run_url("run_cancel"),
        {**signed_in(302), "outsider": 404, "educator": 404, "examiner": 404},
    ),
    # The leakage exercise a lesson embeds: whoever may read the lesson trains for it; only
    # the resident who trained both splits answers its questions.
    Row(
        "model_builder:exercise_run_create",
        "post",
        builder_matrix.exercise_run_create_url,
        {**signed_in(302), "outsider": 403},
        data=builder_matrix.exercise_run_create_data,
    ),
    Row(
        "model_builder:run_answers",
        "post",
        builder_matrix.exercise_answers_url,
        {**signed_in(404), "resident": 302},
    ),
    Row("model_builder:leakage", "get", lambda c: reverse("model_builder:leakage"), signed_in(200)),
    Row("model_builder:cohorts", "get", lambda c: reverse("model_builder:cohorts"), signed_in(200)),
    Row(
        "model_builder:cohort_detail",
        "get",
        builder_matrix.cohort_url("cohort_detail"),
        {**signed_in(404), "resident": 200},
    ),
    Row(
        "model_builder:cohort_labels_set",
        "post",
        builder_matrix.cohort_url("cohort_labels_set"),
        {**signed_in(404), "resident": 302},
    ),
    Row(
        "model_builder:cohort_labels_set",
        "post",
        builder_matrix.cohort_url("cohort_labels_set"),
        {**signed_in(404), "resident": 302},
        data=builder_matrix.study_label_data,
    ),
    Row(
        "model_builder:cohort_labels_upload",
        "post",
        builder_matrix.cohort_url("cohort_labels_upload"),
        {**signed_in(404), "resident": 400},
        data=builder_matrix.label_file_data,
    ),
    # The viewer page: any signed-in user; the images themselves are guarded by DICOMweb.
    Row("viewer:page", "get", lambda c: reverse("viewer:page", args=["1.2.3"]), signed_in(200)),
    # De-identification lab: the resident owns the attempt; educators and admins may look at
    # it, only the owner works on it, owner and admin may cancel it; the outsider may not
    # know it exists.
    Row("deid_lab:attempt_list", "get", deid_url("attempt_list"), signed_in(200)),
    Row(
        "deid_lab:attempt_create",
        "post",
        deid_url("attempt_create"),
        {**signed_in(302), "outsider": 403},
        data=deid_create_data,
    ),
    Row(
        "deid_lab:attempt_detail",
        "get",
        deid_url("attempt_detail"),
        RUN_VIEWERS_200,
    ),
    Row(
        "deid_lab:findings_submit",
        "post",
        deid_url("findings_submit"),
        {**signed_in(404), "resident": 302},
    ),
    Row(
        "deid_lab:run_request",
        "post",
        deid_url("run_request"),
        {**signed_in(404), "resident": 302},
    ),
    Row(
        "deid_lab:attempt_answers",
        "post",
        deid_url("attempt_answers"),
        {**signed_in(404), "resident": 302},
    ),
    Row("deid_lab:run_status", "get", deid_url("run_status"), RUN_VIEWERS_200),
    Row(
        "deid_lab:run_cancel",
        "post",
        deid_url("run_cancel"),
        {**signed_in(404), "resident": 302, "admin": 302},
    ),
    Row(
        "deid_lab:attempt_image",
        "get",
        deid_url("attempt_image", "original"),
        RUN_VIEWERS_200,
    ),
    Row(
        "deid_lab:deidentified_download",
        "get",
        deid_url("deidentified_download"),
        RUN_VIEWERS_200,
    ),
    # Assessments: residents of the course take them, outsiders do not learn they exist,
    # staff see them (not sit them); an attempt is its candidate's alone.
    Row("assessments:list", "get", assessments.url("list"), signed_in(200)),
    Row(
        "assessments:detail",
        "get",
        assessments.url("detail", "quiz"),
        {**signed_in(200), "outsider": 404},
    ),
    Row(
        "assessments:start",
        "post",
        assessments.url("start", "quiz"),
        {**signed_in(403), "resident": 302, "outsider": 404},
    ),
    Row(
        "assessments:statistics",
        "get",
        assessments.url("statistics", "quiz"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "assessments:distribution",
        "get",
        assessments.url("distribution", "quiz"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "assessments:attempt",
        "get",
        assessments.url("attempt", "attempt"),
        {**signed_in(404), "resident": 200},
    ),
    Row(
        "assessments:answer",
        "post",
        assessments.url("answer", "attempt"),
        {**signed_in(404), "resident": 302},
        data=lambda c: {"choice": "1"},
    ),
    Row(
        "assessments:review",
        "get",
        assessments.url("review", "attempt"),
        {**signed_in(404), "resident": 200},
    ),
    Row(
        "assessments:submit",
        "post",
        assessments.url("submit", "attempt"),
        {**signed_in(404), "resident": 302},
    ),
    Row(
        "assessments:result",
        "get",
        assessments.url("result", "finished"),
        {**signed_in(404), "resident": 200},
    ),
    # A finished answer's mark drawn for the viewer: its candidate and staff pass the rule;
    # the matrix answer is a choice (nothing drawn), so they too get 404. Who sees a real
    # mark is tested in tests/grading_tests/test_results_one_fact.py.
    Row(
        "assessments:answer_mark",
        "get",
        assessments.answer_mark_url,
        signed_in(404),
    ),
    # The question bank's QTI 2.1 export holds every answer key; export and import are
    # its authors' (educators, admins). An import posted without a package is answered 400
    # with the reason; tests/assessments_tests/test_qti_interchange.py posts real ones.
    Row(
        "assessments:bank_export",
        "get",
        assessments.url("bank_export"),
        {**every(403), "anonymous": LOGIN, "educator": 200, "admin": 200},
    ),
    Row(
        "assessments:bank_import",
        "get",
        assessments.url("bank_import"),
        {**every(403), "anonymous": LOGIN, "educator": 200, "admin": 200},
    ),
    Row(
        "assessments:bank_import",
        "post",
        assessments.url("bank_import"),
        {**every(403), "anonymous": LOGIN, "educator": 400, "admin": 400},
    ),
    # Reading room (issue 8): simulators run only inside a lesson the visitor may read;
    # runs are the owner's (the resident's here), educators' and admins'; others get 404.
    Row("reading_room:run_list", "get", reading_room.url("run_list"), signed_in(200)),
    Row(
        "reading_room:run_create",
        "post",
        reading_room.url("run_create", "triage"),
        {**signed_in(302), "outsider": 403},
        data=reading_room.lesson_data({"threshold": "0.4", "policy": "flag"}),
    ),
    Row(
        "reading_room:scores_request",
        "post",
        reading_room.url("scores_request", "screening"),
        {**signed_in(302), "outsider": 403},
        data=reading_room.lesson_data(),
    ),
    Row(
        "reading_room:scores_status",
        "get",
        reading_room.url("scores_status", "score_set"),
        signed_in(200),
    ),
    Row(
        "reading_room:run_detail",
        "get",
        reading_room.url("run_detail", "run"),
        RUN_VIEWERS_200,
    ),
    Row(
        "reading_room:run_answers",
        "post",
        reading_room.url("run_answers", "run"),
        {**signed_in(404), "resident": 302},
    ),
    Row(
        "reading_room:run_plot",
        "get",
        reading_room.url("run_plot", "run", "time-to-report"),
        RUN_VIEWERS_200,
    ),
    # Reader study (issue 16): taken inside a lesson the visitor may read; a session's
    # ratings and results are its owner's alone (staff included, everyone else gets 404);
    # educators and admins see only the cohort's aggregate.
    Row(
        "reader_study:session_start",
        "post",
        reader_study.url("session_start", "exercise"),
        {**signed_in(302), "outsider": 403},
        data=reader_study.lesson_data,
    ),
    Row(
        "reader_study:cohort_summary",
        "get",
        reader_study.url("cohort_summary", "exercise"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    Row(
        "reader_study:session_result",
        "get",
        reader_study.url("session_result", "session"),
        {**signed_in(404), "resident": 302},  # unfinished: on to the case due
    ),
    # Written answers (not ratings) are read by the resident, educators and admins; only
    # the resident writes them, once every case is rated (the matrix's session is not).
    Row(
        "reader_study:session_answers",
        "get",
        reader_study.url("session_answers", "session"),
        {**signed_in(404), "resident": 200, "educator": 200, "admin": 200},
    ),
    Row(
        "reader_study:session_answers",
        "post",
        reader_study.url("session_answers", "session"),
        signed_in(404),
    ),
    Row(
        "reader_study:case",
        "get",
        reader_study.url("case", "session", 0),
        {**signed_in(404), "resident": 200},
    ),
    Row(
        "reader_study:case_image",
        "get",
        reader_study.url("case_image", "session", 0),
        {**signed_in(404), "resident": 200},
    ),
    # Grading (issue 9): examiners and admins mark; residents see only their own released
    # marks (others' are 404); gradebook for educators, examiners and admins.
    Row("grading:queue", "get", grading.url("queue"), {**signed_in(403), **MARKERS_200}),
    Row(
        "grading:response_mark",
        "get",
        grading.url("response_mark", "response"),
        {**signed_in(403), **MARKERS_200},
    ),
    # The same page for an answer awaiting a moderator (two marks too far apart).
    Row(
        "grading:response_mark",
        "get",
        grading.moderated_response_url,
        {**signed_in(403), **MARKERS_200},
    ),
    # An automatically marked answer of the same attempt: reviewed on the same page.
    Row(
        "grading:response_mark",
        "get",
        grading.url("response_mark", "auto_response"),
        {**signed_in(403), **MARKERS_200},
    ),
    Row(
        "grading:response_override",
        "post",
        grading.url("response_override", "auto_response"),
        {**signed_in(403), "examiner": 302, "admin": 302},
        data=grading.decision_data,
    ),
    Row(
        "grading:response_lab_run_output",
        "get",
        grading.lab_run_output_url,
        {**signed_in(403), **MARKERS_200},
    ),
    *[
        Row(
            f"grading:{name}",
            "post",
            grading.url(name, "response"),
            {**signed_in(403), "examiner": 302, "admin": 302},
            data=grading.decision_data,
        )
        for name in ("response_moderate", "response_release", "response_regrade")
    ],
    Row(
        "grading:assessment_release",
        "post",
        grading.url("assessment_release", "assessment"),
        {**signed_in(403), "educator": 302, "examiner": 302, "admin": 302},
    ),
    # Releasing an exam's answer key is the educators' and admins' explicit, audited step.
    Row(
        "grading:answer_key_release",
        "post",
        assessments.key_release_url,
        {**signed_in(403), "educator": 302, "admin": 302},
    ),
    Row("grading:my_grades", "get", grading.url("my_grades"), signed_in(200)),
    Row(
        "grading:attempt_feedback",
        "get",
        grading.url("attempt_feedback", "attempt"),
        RUN_VIEWERS_200,
    ),
    Row(
        "grading:regrade_request",
        "post",
        grading.url("regrade_request", "response"),
        {**signed_in(404), "resident": 302},
        data=lambda c: {"reason": "Matrix request."},
    ),
    *[
        Row(
            f"grading:{name}",
            "get",
            grading.url(name, *needs),
            {**signed_in(403), **GRADEBOOK_200},
        )
        for name, needs in [
            ("gradebook_index", ()),
            ("gradebook", ("course",)),
            ("gradebook_csv", ("course",)),
        ]
    ],
    Row(
        "grading:gradebook_resident",
        "get",
        grading.url("gradebook_resident", "course", "resident"),
        {**signed_in(200), "outsider": 404},
    ),
    Row(
        "grading:grade_override",
        "post",
        grading.url("grade_override", "course"),
        {**signed_in(403), "educator": 302, "admin": 302},
        data=grading.override_data,
    ),
    Row("grading:audit_log", "get", grading.url("audit_log"), {**signed_in(403), "admin": 200}),
    Row(
        "grading:certificate_claim",
        "post",
        grading.url("certificate_claim", "course"),
        {**signed_in(403), "resident": 302, "outsider": 404},
    ),
    Row(
        "grading:certificate_download",
        "get",
        grading.url("certificate_download", "certificate"),
        RUN_VIEWERS_200,
    ),
    Row("certificates:verify", "get", grading.verify_url, every(200)),
    # The REST API: a token (or the session) acts as its owner, so each resource answers as
    # the page it mirrors does; no valid credential is 401 (with a Bearer challenge).
    Row("api:tokens", "get", api.url("tokens"), signed_in(200)),
    Row("api:tokens", "post", api.url("tokens"), signed_in(200), data=lambda c: {"name": "m"}),
    Row("api:schema", "get", api.url("schema"), signed_in(200, anonymous=401)),
    Row("api:docs", "get", api.url("docs"), signed_in(200)),
    Row("api:not_found", "get", lambda c: "/api/v1/lab-runs/x/", every(404)),
    Row("api:course_list", "get", api.url("course_list"), signed_in(200, anonymous=401)),
    *[
        Row(
            f"api:{name}",
            "get",
            api.url(name, needs),
            {**signed_in(200, anonymous=401), "outsider": 404},
        )
        for name, needs in [
            ("course_detail", "course"),
            ("course_progress", "course"),
            ("lesson_detail", "lesson"),
        ]
    ],
    Row(
        "api:course_gradebook",
        "get",
        api.url("course_gradebook", "course"),
        {**signed_in(403, anonymous=401), **GRADEBOOK_200},
    ),
    Row("api:lab_run_list", "get", api.url("lab_run_list"), signed_in(200, anonymous=401)),
    Row(
        "api:lab_run_list",
        "post",
        api.url("lab_run_list"),
        {**signed_in(201, anonymous=401), "outsider": 403},
        data=api.lab_run_start_data,
    ),
    Row(
        "api:lab_run_detail",
        "get",
        api.url("lab_run_detail", "run"),
        {**RUN_VIEWERS_200, "anonymous": 401},
    ),
    Row(
        "api:lab_run_cancel",
        "post",
        api.url("lab_run_cancel", "run"),
        {**signed_in(200, anonymous=401), "outsider": 404, "educator": 404, "examiner": 404},
    ),
    Row("api:cohort_run_list", "get", api.url("cohort_run_list"), signed_in(200, anonymous=401)),
    Row(
        "api:cohort_run_detail",
        "get",
        api.url("cohort_run_detail", "cohort_run"),
        {**RUN_VIEWERS_200, "anonymous": 401},
    ),
    Row(
        "api:question_bank",
        "get",
        api.url("question_bank"),
        {**signed_in(403, anonymous=401), "educator": 200, "admin": 200},
    ),
]

# The LTI tool (lti/): its endpoints answer any visitor (a platform's signed message is the
# credential; without one, 400 with a page that says why); its pages are educators'.
MATRIX += [
    Row("lti:jwks", "get", lambda c: reverse("lti:jwks"), every(200)),
    Row("lti:login", "get", lti.login_url, every(400)),
    Row("lti:launch", "post", lambda c: reverse("lti:launch"), every(400)),
    # No deep-linking launch in the session: authors are told to start from their LMS.
    Row(
        "lti:deep_link",
        "get",
        lambda c: reverse("lti:deep_link"),
        {**signed_in(403), "educator": 400, "admin": 400},
    ),
    Row(
        "lti:contexts",
        "get",
        lambda c: reverse("lti:contexts"),
        {**signed_in(403), "educator": 200, "admin": 200},
    ),
    # A roster: the LMS course's Instructor and programme admins; no one else learns it exists.
    Row("lti:roster", "get", lti.roster_url, {**signed_in(404), "educator": 200, "admin": 200}),
    Row("lti:roster", "post", lti.roster_url, {**signed_in(404), "educator": 302, "admin": 302}),
]

THIRD_PARTY_PREFIXES = {"django-admin/": "django-admin/*", "cms/": "cms/*"}


def _project_url_keys() -> set[str]:
    """URL names of the project's own views plus one key per third-party tree."""
    keys = set()

    def walk(patterns, namespace=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                prefix = str(entry.pattern)
                if prefix in THIRD_PARTY_PREFIXES:
                    keys.add(THIRD_PARTY_PREFIXES[prefix])
                elif entry.urlconf_module.__name__.startswith("wagtail."):
                    keys.add("wagtail-pages/*")
                else:
                    inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                    walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern):
                assert entry.name, f"Every project URL needs a name: {entry.pattern}"
                keys.add(f"{namespace}{entry.name}")

    walk(get_resolver().url_patterns)
    return keys


def test_every_url_is_in_the_matrix():
    assert _project_url_keys() == {row.key for row in MATRIX}


def _fresh(value):
    """The same rows read again: what a row changed in memory does not leak into the next."""
    if isinstance(value, Model):
        return type(value)._default_manager.get(pk=value.pk)
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    return value


def matrix_world_build() -> dict:
    """People, the demo course with the resident enrolled, a finished lab run, a cohort
    sweep, the reading room's scores and the DICOMweb study: what the rows' URLs name."""
    people = people_create()
    lesson = demo_course_ensure()
    enrolment_create(user=people["resident"], course=lesson.get_parent().get_parent())
    exercise = lesson.body[1].value["exercise"]
    run = lab_run_create(user=people["resident"], exercise=exercise, severity=10)
    run.original_image.save("original_image.png", ContentFile(b"\x89PNG fake"), save=False)
    run.status = LabRunStatus.SUCCEEDED
    run.save()
    context = {"lesson": lesson, "exercise": exercise, "run": run, "people": people}
    cohort_run_url("run_detail")(context)
    reading_room_context(context)
    dicomweb_url("study")(context)
    return context


@pytest.fixture(scope="module")
def matrix_world(django_db_setup, django_db_blocker, tmp_path_factory):
    """What every row starts from, built once for the module: people, the demo course, a
    finished lab run, and the objects whose making runs real models or builds studies (the
    cohort sweep, the reading room's scores, the DICOMweb study).

    It is built inside a transaction that is rolled back after the last row; each row runs
    in a savepoint of it (pytest-django's `db`), so what one row changes is undone before
    the next, exactly as if the world had been built for that row alone.
    """
    overrides = override_settings(
        MEDIA_ROOT=tmp_path_factory.mktemp("matrix-media"),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEID_SECRET="tests-deid-secret-not-secret",
    )
    overrides.enable()
    with django_db_blocker.unblock():
        world = transaction.atomic()
        world.__enter__()
    try:
        with django_db_blocker.unblock():
            context = matrix_world_build()
        yield context
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            world.__exit__(None, None, None)
        overrides.disable()


@pytest.fixture
def matrix_context(db, matrix_world):
    """This row's own copy of the world; what rows build lazily is cached in it, for this
    row only (the savepoint takes it away again)."""
    return {
        **_fresh(matrix_world),
        "lesson": Page.objects.get(pk=matrix_world["lesson"].pk).specific,
    }


def _outcome(client, row: Row, who: str, context: dict) -> str | None:
    """None when the response matches the matrix, else what went wrong."""
    client.logout()
    if who != "anonymous":
        client.force_login(context["people"][who])
    # Cancel and create rows change the run; every request starts from a finished run.
    LabRun.objects.filter(pk=context["run"].pk).update(status=LabRunStatus.SUCCEEDED)
    data = row.data(context) if row.data else {}
    with override_settings(**(row.settings or {})):
        response = getattr(client, row.method)(row.url(context), data)
    expected = row.expected[who]
    if expected != LOGIN:
        if response.status_code != expected:
            return f"{who}: expected {expected}, got {response.status_code}"
        return None
    if response.status_code != 302:
        return f"{who}: expected a login redirect, got {response.status_code}"
    # Follow at most two hops (the Django admin's login forwards to ours).
    for _hop in range(2):
        if response["Location"].startswith(reverse("login")):
            return None
        response = client.get(response["Location"])
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return None
    return f"{who}: expected a login redirect, got {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.key)
def test_role_matrix(client, matrix_context, row):
    """One test per URL; all six kinds of visitor are checked, and all mismatches reported."""
    mismatches = [
        problem
        for who in WHO
        if (problem := _outcome(client, row, who, matrix_context)) is not None
    ]
    assert not mismatches, f"{row.key}: " + "; ".join(mismatches)
