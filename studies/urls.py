"""The studies app's routes: the DICOMweb server (/dicomweb/) and the study pages."""

from django.urls import include, path

from studies import views

urlpatterns = [
    path("dicomweb/", include("studies.dicomweb.urls")),
    path("studies/", views.study_list, name="study_list"),
    path("studies/<int:pk>/courses/", views.study_courses, name="study_courses"),
    path("studies/import/", views.study_import, name="study_import"),
]
