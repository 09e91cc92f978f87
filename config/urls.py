from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language
from wagtail import urls as wagtail_urls
from wagtail import views as wagtail_views
from wagtail.admin import urls as wagtailadmin_urls

from config import ops

urlpatterns = [
    # Liveness, readiness and Prometheus metrics (config.ops).
    path("healthz", ops.liveness, name="health"),
    path("readyz", ops.readiness, name="readiness"),
    path("metrics", ops.metrics, name="metrics"),
    # The header's language switch (POST, CSRF): the choice is kept in a cookie.
    path("i18n/setlang/", set_language, name="set_language"),
    path("accounts/", include("accounts.urls")),
    path("labs/", include("labs.urls")),
    path("deid-lab/", include("deid_lab.urls")),
    path("evaluation/", include("evaluation.urls")),
    path("build/", include("model_builder.urls")),
    path("reading-room/", include("reading_room.urls")),
    path("reader-study/", include("reader_study.urls")),
    path("viewer/", include("studies.viewer_pages")),
    path("", include("studies.urls")),
    path("learn/", include("curriculum.urls")),
    path("assess/", include("assessments.urls")),
    path("grading/", include("grading.urls")),
    path("api/", include("api.urls")),
    path("lti/", include("lti.urls")),
    path("certificates/", include("grading.verification_urls")),
    # One login page for the whole site: the Django admin's own is sent to ours.
    path(
        "django-admin/login/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="admin_login_redirect",
    ),
    path("django-admin/", admin.site.urls),
    path("cms/", include(wagtailadmin_urls)),
    path("", wagtail_views.serve, {"path": ""}, name="home"),
    path("", include(wagtail_urls)),
]
