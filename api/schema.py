"""How drf-spectacular describes the API: our endpoints only, and the bearer token."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

API_PREFIX = "/api/v1/"


def only_our_endpoints(endpoints, **_kwargs):
    """Wagtail's admin API is Wagtail's (and used only by its admin); the schema documents
    the API this project offers."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token, made on the API tokens page.",
        }
