from django.urls import path

from lti import views

app_name = "lti"
urlpatterns = [
    # What a platform is told at registration (docs/lti.md).
    path("jwks/", views.jwks, name="jwks"),
    path("login/<uuid:registration_uuid>/", views.LoginInitView.as_view(), name="login"),
    path("launch/", views.LaunchView.as_view(), name="launch"),
    # Educators' pages.
    path("deep-link/", views.deep_link, name="deep_link"),
    path("courses/", views.context_list, name="contexts"),
    path("courses/<int:context_pk>/roster/", views.roster, name="roster"),
]
