from django.urls import path

from labs import views

app_name = "labs"

urlpatterns = [
    path("uploads/", views.uploaded_model_list, name="uploaded_models"),
    path("uploads/new/", views.uploaded_model_create, name="uploaded_model_create"),
    path("runs/", views.lab_run_list, name="run_list"),
    path("exercises/<int:exercise_pk>/runs/", views.lab_run_create, name="run_create"),
    path("runs/<int:run_pk>/", views.lab_run_detail, name="run_detail"),
    path("runs/<int:run_pk>/status/", views.lab_run_status, name="run_status"),
    path("runs/<int:run_pk>/cancel/", views.lab_run_cancel, name="run_cancel"),
    path("runs/<int:run_pk>/outputs/<slug:output>.png", views.lab_run_output, name="run_output"),
    path("runs/<int:run_pk>/files/<str:name>", views.lab_run_file, name="run_file"),
    path("runs/<int:run_pk>/answers/", views.lab_run_answers, name="run_answers"),
    path("models/<slug:model_key>/", views.model_card_detail, name="model_card"),
]
