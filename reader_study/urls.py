from django.urls import path

from reader_study import views

app_name = "reader_study"

urlpatterns = [
    path("exercises/<int:exercise_pk>/start/", views.session_start, name="session_start"),
    path("exercises/<int:exercise_pk>/cohort/", views.cohort_summary, name="cohort_summary"),
    path("sessions/<int:session_pk>/", views.session_result, name="session_result"),
    path("sessions/<int:session_pk>/answers/", views.session_answers, name="session_answers"),
    path("sessions/<int:session_pk>/cases/<int:position>/", views.case, name="case"),
    path(
        "sessions/<int:session_pk>/cases/<int:position>.png",
        views.case_image,
        name="case_image",
    ),
]
