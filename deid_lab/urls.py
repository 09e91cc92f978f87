from django.urls import path

from deid_lab import views

app_name = "deid_lab"

urlpatterns = [
    path("", views.attempt_list, name="attempt_list"),
    path("exercises/<int:exercise_pk>/attempts/", views.attempt_create, name="attempt_create"),
    path("attempts/<int:attempt_pk>/", views.attempt_detail, name="attempt_detail"),
    path("attempts/<int:attempt_pk>/findings/", views.findings_submit, name="findings_submit"),
    path("attempts/<int:attempt_pk>/run/", views.run_request, name="run_request"),
    path("attempts/<int:attempt_pk>/status/", views.run_status, name="run_status"),
    path("attempts/<int:attempt_pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("attempts/<int:attempt_pk>/answers/", views.attempt_answers, name="attempt_answers"),
    path(
        "attempts/<int:attempt_pk>/images/<slug:which>.png",
        views.attempt_image,
        name="attempt_image",
    ),
    path(
        "attempts/<int:attempt_pk>/deidentified.dcm",
        views.deidentified_download,
        name="deidentified_download",
    ),
]
