from django.urls import path

from grading import views

app_name = "grading"

urlpatterns = [
    path("queue/", views.grading_queue, name="queue"),
    path("responses/<int:response_pk>/", views.response_mark, name="response_mark"),
    path(
        "responses/<int:response_pk>/runs/<int:run_number>/<slug:output>.png",
        views.response_lab_run_output,
        name="response_lab_run_output",
    ),
    path(
        "responses/<int:response_pk>/moderate/", views.response_moderate, name="response_moderate"
    ),
    path(
        "responses/<int:response_pk>/override/", views.response_override, name="response_override"
    ),
    path("responses/<int:response_pk>/release/", views.response_release, name="response_release"),
    path("responses/<int:response_pk>/regrade/", views.response_regrade, name="response_regrade"),
    path(
        "assessments/<int:assessment_pk>/release/",
        views.assessment_release,
        name="assessment_release",
    ),
    path(
        "assessments/<int:assessment_pk>/key-release/",
        views.answer_key_release,
        name="answer_key_release",
    ),
    path("mine/", views.my_grades, name="my_grades"),
    path("attempts/<int:attempt_pk>/", views.attempt_feedback, name="attempt_feedback"),
    path(
        "answers/<int:response_pk>/regrade-request/", views.regrade_request, name="regrade_request"
    ),
    path("gradebook/", views.gradebook_index, name="gradebook_index"),
    path("gradebook/<int:course_pk>/", views.gradebook, name="gradebook"),
    path("gradebook/<int:course_pk>/export.csv", views.gradebook_csv, name="gradebook_csv"),
    path(
        "gradebook/<int:course_pk>/residents/<int:user_pk>/",
        views.gradebook_resident,
        name="gradebook_resident",
    ),
    path("gradebook/<int:course_pk>/overrides/", views.grade_override, name="grade_override"),
    path("audit/", views.audit_log, name="audit_log"),
    path("courses/<int:course_pk>/certificate/", views.certificate_claim, name="certificate_claim"),
    path(
        "certificates/<int:certificate_pk>.pdf",
        views.certificate_download,
        name="certificate_download",
    ),
]
