from django.urls import path

from reading_room import views

app_name = "reading_room"

urlpatterns = [
    path("runs/", views.simulation_run_list, name="run_list"),
    path("exercises/<int:exercise_pk>/runs/", views.simulation_run_create, name="run_create"),
    path("exercises/<int:exercise_pk>/scores/", views.score_set_request, name="scores_request"),
    path("scores/<int:score_set_pk>/status/", views.score_set_status, name="scores_status"),
    path("runs/<int:run_pk>/", views.simulation_run_detail, name="run_detail"),
    path("runs/<int:run_pk>/answers/", views.simulation_run_answers, name="run_answers"),
    path("runs/<int:run_pk>/plots/<slug:plot>.svg", views.simulation_run_plot, name="run_plot"),
]
