from django.urls import path

from evaluation import views

app_name = "evaluation"

urlpatterns = [
    path("runs/", views.cohort_run_list, name="run_list"),
    path("exercises/<int:exercise_pk>/runs/", views.cohort_run_create, name="run_create"),
    path("runs/<int:run_pk>/", views.cohort_run_detail, name="run_detail"),
    path("runs/<int:run_pk>/status/", views.cohort_run_status, name="run_status"),
    path("runs/<int:run_pk>/cancel/", views.cohort_run_cancel, name="run_cancel"),
    path("runs/<int:run_pk>/answers/", views.cohort_run_answers, name="run_answers"),
    path("runs/<int:run_pk>/measure/", views.measure_page, name="measure"),
    path("runs/<int:run_pk>/measure/live/", views.measure_live, name="measure_live"),
    path("runs/<int:run_pk>/roc.svg", views.roc_plot, name="roc_plot"),
    path("runs/<int:run_pk>/reliability.svg", views.reliability_plot, name="reliability_plot"),
    path("runs/<int:run_pk>/robustness.png", views.robustness_plot, name="robustness_plot"),
    path(
        "runs/<int:run_pk>/worst/<int:rank>/<slug:picture>.png",
        views.worst_case_picture,
        name="worst_case_picture",
    ),
    path("runs/<int:run_pk>/cases.csv", views.cases_csv, name="cases_csv"),
    path("runs/<int:run_pk>/summary.csv", views.summary_csv, name="summary_csv"),
]
