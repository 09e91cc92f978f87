from django.urls import path

from curriculum import views

app_name = "curriculum"

urlpatterns = [
    path("courses/<int:course_id>/enrol/", views.course_enrol, name="course_enrol"),
    path("courses/<int:course_id>/progress/", views.course_progress, name="course_progress"),
    path(
        "courses/<int:course_id>/residents/<int:user_id>/",
        views.resident_lessons,
        name="resident_lessons",
    ),
    path("courses/<int:course_id>/mapping/", views.outcome_mapping, name="outcome_mapping"),
    path(
        "courses/<int:course_id>/mapping.csv", views.outcome_mapping_csv, name="outcome_mapping_csv"
    ),
    path(
        "courses/<int:course_id>/mapping.json",
        views.outcome_mapping_json,
        name="outcome_mapping_json",
    ),
    path("lessons/<int:lesson_id>/complete/", views.lesson_complete, name="lesson_complete"),
    path("progress/", views.my_progress, name="my_progress"),
    path("search/", views.lesson_search, name="search"),
]
