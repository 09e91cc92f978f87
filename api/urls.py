from django.contrib.auth.decorators import login_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views

app_name = "api"

urlpatterns = [
    path("tokens/", views.token_page, name="tokens"),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so the page runs under
    # the site's CSP (no inline script); its assets come from the sidecar package (offline).
    path(
        "v1/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    path("v1/courses/", views.CourseList.as_view(), name="course_list"),
    path("v1/courses/<int:course_pk>/", views.CourseDetail.as_view(), name="course_detail"),
    path(
        "v1/courses/<int:course_pk>/progress/",
        views.CourseProgressView.as_view(),
        name="course_progress",
    ),
    path(
        "v1/courses/<int:course_pk>/gradebook/",
        views.CourseGradebook.as_view(),
        name="course_gradebook",
    ),
    path("v1/lessons/<int:lesson_pk>/", views.LessonDetail.as_view(), name="lesson_detail"),
    path("v1/lab-runs/", views.LabRunList.as_view(), name="lab_run_list"),
    path("v1/lab-runs/<int:run_pk>/", views.LabRunDetail.as_view(), name="lab_run_detail"),
    path("v1/lab-runs/<int:run_pk>/cancel/", views.LabRunCancel.as_view(), name="lab_run_cancel"),
    path("v1/cohort-runs/", views.CohortRunList.as_view(), name="cohort_run_list"),
    path("v1/cohort-runs/<int:run_pk>/", views.CohortRunDetail.as_view(), name="cohort_run_detail"),
    path("v1/question-bank/", views.QuestionBank.as_view(), name="question_bank"),
    # Anything else under the API (a malformed id, a typo) answers in JSON, not a web page.
    re_path(r"^v1/", views.not_found, name="not_found"),
]
