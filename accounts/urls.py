from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import sso, views

urlpatterns = [
    path("login/", sso.ArtefactLoginView.as_view(), name="login"),
    # Single sign-on (OpenID Connect); 404 unless configured (settings.SSO_ENABLED).
    path("sso/start/", sso.SsoStartView.as_view(), name="sso_start"),
    path("sso/callback/", sso.SsoCallbackView.as_view(), name="sso_callback"),
    # A programme admin enrols residents in courses and cohorts from a CSV (issue 17 item 6).
    path("enrolments/import/", views.enrolment_import, name="enrolment_import"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
