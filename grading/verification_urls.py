"""The public certificate verification page, outside /grading/ so its address reads well
printed on a certificate."""

from django.urls import path

from grading import views

app_name = "certificates"

urlpatterns = [
    path("verify/<str:code>/", views.certificate_verify, name="verify"),
]
