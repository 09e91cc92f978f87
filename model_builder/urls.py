from django.urls import path

from model_builder import views

app_name = "model_builder"

urlpatterns = [
    path("", views.builder_home, name="home"),
    path("runs/new/", views.training_run_create, name="run_create"),
    path("runs/<int:run_pk>/", views.training_run_detail, name="run_detail"),
    path("runs/<int:run_pk>/status/", views.training_run_status, name="run_status"),
    path("runs/<int:run_pk>/curves.svg", views.training_run_curves, name="run_curves"),
    path("runs/<int:run_pk>/cancel/", views.training_run_cancel, name="run_cancel"),
    path("runs/<int:run_pk>/answers/", views.training_run_answers, name="run_answers"),
    path(
        "exercises/<int:exercise_pk>/runs/", views.exercise_run_create, name="exercise_run_create"
    ),
    path("leakage/", views.leakage_lesson, name="leakage"),
    path("cohorts/", views.cohort_list, name="cohorts"),
    path("cohorts/<int:cohort_pk>/", views.cohort_detail, name="cohort_detail"),
    path("cohorts/<int:cohort_pk>/labels/", views.cohort_labels_set, name="cohort_labels_set"),
    path(
        "cohorts/<int:cohort_pk>/labels.csv",
        views.cohort_labels_upload,
        name="cohort_labels_upload",
    ),
]
