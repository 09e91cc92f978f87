"""The REST API (OpenAPI 3 at /api/v1/schema/). Thin views: each asks the same access rules
as the pages (accounts.permissions) and reads through the apps' selectors or starts work
through their services, so a token can do exactly what its owner can do in the browser."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageRefused
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView
from wagtail.models import Page

from accounts import permissions
from api import selectors as api_selectors
from api import serializers, services
from assessments.models import Question
from curriculum.models import CurriculumPage, LessonPage, ModulePage
from curriculum.selectors import course_progress
from evaluation.selectors import cohort_run_by_pk, cohort_runs_for_user
from grading.selectors import course_gradebook
from labs import services as lab_services
from labs.models import LabExercise
from labs.selectors import lab_run_by_pk, lab_runs_for_user, lesson_lab_exercise_ids
from runs.services import run_cancel

LIST_LIMIT = 50
NOT_FOUND = OpenApiResponse(serializers.ErrorSerializer, description="Not found (or not yours).")
REFUSED = OpenApiResponse(serializers.ErrorSerializer, description="Not allowed for your role.")
UNAUTHENTICATED = OpenApiResponse(serializers.ErrorSerializer, description="No valid token.")
THROTTLED = OpenApiResponse(serializers.ErrorSerializer, description="Too many requests.")
COMMON = {401: UNAUTHENTICATED, 403: REFUSED, 429: THROTTLED}
INVALID = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Refused: `detail` says why, or each field's problems under its name.",
)


def _course_or_404(user, course_pk: int) -> CurriculumPage:
    course = CurriculumPage.objects.live().filter(pk=course_pk).specific().first()
    if course is None or not permissions.may(user, "curriculum.view_page", course):
        raise NotFound("No such course.")
    return course


def _with_lessons(module: ModulePage) -> ModulePage:
    module.lessons = list(LessonPage.objects.child_of(module).live().order_by("path"))
    return module


class CourseList(APIView):
    @extend_schema(
        summary="Courses you may open",
        responses={200: serializers.CourseSummarySerializer(many=True), **COMMON},
    )
    def get(self, request):
        courses = []
        for course in CurriculumPage.objects.live().specific().order_by("path"):
            course.may_open = permissions.may(request.user, "curriculum.view_page", course)
            if course.may_open:
                courses.append(course)
        return Response(serializers.CourseSummarySerializer(courses, many=True).data)


class CourseDetail(APIView):
    @extend_schema(
        summary="A course's modules and lessons",
        responses={200: serializers.CourseDetailSerializer, 404: NOT_FOUND, **COMMON},
    )
    def get(self, request, course_pk: int):
        course = _course_or_404(request.user, course_pk)
        course.may_open = True
        course.modules = [
            _with_lessons(module)
            for module in ModulePage.objects.child_of(course).live().order_by("path")
        ]
        return Response(serializers.CourseDetailSerializer(course).data)


class CourseProgressView(APIView):
    @extend_schema(
        summary="Your progress through a course",
        responses={200: serializers.CourseProgressSerializer, 404: NOT_FOUND, **COMMON},
    )
    def get(self, request, course_pk: int):
        if not permissions.may(request.user, "curriculum.view_own_progress"):
            raise PermissionDenied("Sign in to see your progress.")
        course = _course_or_404(request.user, course_pk)
        progress = course_progress(user=request.user, course=course)
        return Response(serializers.CourseProgressSerializer(progress).data)


class CourseGradebook(APIView):
    @extend_schema(
        summary="The course's gradebook (educators, examiners, admins)",
        responses={200: serializers.ResidentGradesSerializer(many=True), 404: NOT_FOUND, **COMMON},
    )
    def get(self, request, course_pk: int):
        if not permissions.may(request.user, "grading.view_gradebook"):
            raise PermissionDenied("Only educators, examiners and admins see the gradebook.")
        course = CurriculumPage.objects.live().filter(pk=course_pk).first()
        if course is None:
            raise NotFound("No such course.")
        rows = course_gradebook(course=course)
        return Response(serializers.ResidentGradesSerializer(rows, many=True).data)


class LessonDetail(APIView):
    @extend_schema(
        summary="A lesson and the labs it embeds (what you may start)",
        responses={200: serializers.LessonDetailSerializer, 404: NOT_FOUND, **COMMON},
    )
    def get(self, request, lesson_pk: int):
        lesson = LessonPage.objects.live().filter(pk=lesson_pk).first()
        if lesson is None or not permissions.may(request.user, "curriculum.open_lesson", lesson):
            raise NotFound("No such lesson, or it is not open to you yet.")
        lesson.lab_exercises = list(
            LabExercise.objects.filter(
                pk__in=lesson_lab_exercise_ids(lesson), is_published=True
            ).order_by("pk")
        )
        return Response(serializers.LessonDetailSerializer(lesson).data)


def _lab_run_data(run) -> dict:
    run.detail_page = reverse("labs:run_detail", args=[run.pk])
    return serializers.LabRunSerializer(run).data


class LabRunList(APIView):
    @extend_schema(
        summary="Lab runs you may see, newest first (at most 50)",
        responses={200: serializers.LabRunSerializer(many=True), **COMMON},
    )
    def get(self, request):
        return Response(
            [_lab_run_data(run) for run in lab_runs_for_user(user=request.user, limit=LIST_LIMIT)]
        )

    @extend_schema(
        summary="Start a lab run, as the lesson's lab form does",
        request=serializers.LabRunStartSerializer,
        responses={
            201: serializers.LabRunSerializer,
            400: INVALID,
            404: NOT_FOUND,
            **COMMON,
        },
    )
    def post(self, request):
        start = serializers.LabRunStartSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        values = start.validated_data
        exercise = LabExercise.objects.filter(pk=values["exercise_id"]).first()
        lesson = Page.objects.filter(pk=values["lesson_id"]).first()
        if exercise is None or lesson is None:
            raise NotFound("No such lab exercise or lesson.")
        if not permissions.may(request.user, "labs.start_lab", exercise, page=lesson):
            raise PermissionDenied("You may not run this lab from this lesson.")
        try:
            run = lab_services.lab_run_create(
                user=request.user,
                exercise=exercise,
                lesson=lesson,
                perturbation_key=values.get("perturbation_key") or None,
                severity=values.get("severity"),
                slice_number=values.get("slice_number"),
                model_key=values.get("model_key") or None,
                explainer_keys=values.get("explainer_keys"),
            )
        except lab_services.LabRunRefused as refusal:
            raise ValidationError({"detail": str(refusal)}) from refusal
        return Response(_lab_run_data(run), status=status.HTTP_201_CREATED)


def _lab_run_or_404(user, run_pk: int):
    run = lab_run_by_pk(run_pk)
    if run is None or not permissions.may(user, "labs.view_run", run):
        raise NotFound("No such lab run.")
    return run


class LabRunDetail(APIView):
    @extend_schema(
        summary="A lab run: status, progress, metrics and results",
        responses={200: serializers.LabRunSerializer, 404: NOT_FOUND, **COMMON},
    )
    def get(self, request, run_pk: int):
        return Response(_lab_run_data(_lab_run_or_404(request.user, run_pk)))


class LabRunCancel(APIView):
    @extend_schema(
        summary="Cancel a queued or running lab run",
        request=None,
        responses={200: serializers.LabRunSerializer, 404: NOT_FOUND, **COMMON},
    )
    def post(self, request, run_pk: int):
        run = lab_run_by_pk(run_pk)
        # As the page: a run you may not cancel is not there for cancelling (404).
        if run is None or not permissions.may(request.user, "labs.cancel_run", run):
            raise NotFound("No such lab run of yours.")
        run_cancel(run=run)
        run.refresh_from_db()
        return Response(_lab_run_data(run))


class CohortRunList(APIView):
    @extend_schema(
        summary="Cohort runs (robustness sweeps, measure-it) you may see, newest first",
        responses={200: serializers.CohortRunSerializer(many=True), **COMMON},
    )
    def get(self, request):
        runs = cohort_runs_for_user(user=request.user, limit=LIST_LIMIT)
        return Response(serializers.CohortRunSerializer(runs, many=True).data)


class CohortRunDetail(APIView):
    @extend_schema(
        summary="A cohort run: status and the measures per condition",
        responses={200: serializers.CohortRunSerializer, 404: NOT_FOUND, **COMMON},
    )
    def get(self, request, run_pk: int):
        run = cohort_run_by_pk(run_pk)
        if run is None or not permissions.may(request.user, "evaluation.view_run", run):
            raise NotFound("No such cohort run.")
        return Response(serializers.CohortRunSerializer(run).data)


class QuestionBank(APIView):
    @extend_schema(
        summary="The question bank with its answer keys (educators and admins)",
        parameters=[
            OpenApiParameter("pool", str, description="Only questions of this pool tag."),
        ],
        responses={200: serializers.QuestionSerializer(many=True), **COMMON},
    )
    def get(self, request):
        if not permissions.may(request.user, "api.export_question_bank"):
            raise PermissionDenied("Only educators and admins export the question bank.")
        questions = Question.objects.select_related("module").order_by("pk")
        pool = request.query_params.get("pool", "")
        if pool:
            questions = questions.filter(pool=pool)
        return Response(serializers.QuestionSerializer(questions, many=True).data)


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request):
    """Make, list and revoke your own API tokens. A new token is shown once."""
    if not permissions.may(request.user, "api.manage_own_tokens"):
        raise PageRefused
    new_token = None
    if request.method == "POST":
        if "revoke" in request.POST:
            pk = request.POST["revoke"]
            if pk.isdigit() and services.token_revoke(user=request.user, token_pk=int(pk)):
                messages.info(request, _("The token was revoked; it no longer works."))
            else:
                messages.error(request, _("No such token of yours."))
            return redirect("api:tokens")
        try:
            _token, new_token = services.token_create(
                user=request.user, name=request.POST.get("name", "")
            )
        except services.TokenRefused as refusal:
            messages.error(request, str(refusal))
            return redirect("api:tokens")
    return render(
        request,
        "api/tokens.html",
        {
            "tokens": api_selectors.tokens_of(request.user),
            "new_token": new_token,
            "schema_url": reverse("api:schema"),
            "docs_url": reverse("api:docs"),
        },
    )


@csrf_exempt  # it changes nothing; a POST to a wrong address is told so, in JSON
def not_found(request, *args, **kwargs):
    return JsonResponse({"detail": "No such API address."}, status=404)
