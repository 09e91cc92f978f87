"""The Content-Security-Policy middleware: django-csp's, with one documented exception.

The policy itself is settings.CONTENT_SECURITY_POLICY. The Wagtail admin (inline panels,
date widgets) and the Django admin still ship inline <script> elements; under the strict
policy educators could not author. Those two trees, reached only by signed-in staff, get
'unsafe-inline' added to script-src; every page a resident sees keeps the strict policy.
"""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class ArtefactCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        report_only: bool = False,
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith(settings.INLINE_SCRIPT_URL_PREFIXES):
            parts.update = {**(parts.update or {}), "script-src": [UNSAFE_INLINE]}
        return parts
