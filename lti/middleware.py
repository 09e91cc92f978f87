"""Inside an LMS iframe: the LTI flow's cookies and framing, relaxed for that flow only.

A platform shows Artefact in an iframe on its own origin, so the browser (a) sends our
cookies only if they are SameSite=None; Secure, and (b) shows our pages only if the CSP's
frame-ancestors names the platform. Everywhere else the site keeps Lax cookies and
frame-ancestors 'self'/'none'. "The LTI flow" is the tool's own URLs (/lti/...) and the
pages of a session that an LTI launch signed in (the session names the platform's origins,
lti.services.launch_sign_in); a session signed in at our login page is never framed.
"""

from __future__ import annotations

from django.conf import settings

from lti.selectors import registered_origins
from lti.services import SESSION_FRAME_ORIGINS

LTI_PREFIX = "/lti/"


def _frame_origins(request) -> list[str] | None:
    # Read the session only if the view loaded it: reading it here would mark every
    # response `Vary: Cookie` (public, cacheable answers such as DICOMweb frames included).
    # A page of a signed-in session has loaded it (request.user).
    loaded = getattr(getattr(request, "session", None), "_session_cache", None)
    origins = loaded.get(SESSION_FRAME_ORIGINS) if isinstance(loaded, dict) else None
    if origins:
        return list(origins)
    if request.path_info.startswith(LTI_PREFIX):
        # Before a launch has signed anyone in (login initiation, a refused launch's
        # page): any registered platform may frame the tool's own URLs.
        return registered_origins()
    return None


class LtiCookieMiddleware:
    """Outside the session middleware: rewrites the cookies it (and CSRF, and pylti1p3's
    state cookie) set on an LTI-flow response to SameSite=None; Secure, over HTTPS (a
    browser refuses SameSite=None without Secure, and Secure needs HTTPS)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.is_secure() and _frame_origins(request) is not None:
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["samesite"] = "None"
                    response.cookies[name]["secure"] = True
        return response


class LtiFrameMiddleware:
    """Inside the CSP and X-Frame-Options middlewares: an LTI-flow page may be framed by
    its platform (and by us), and carries no X-Frame-Options."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        origins = _frame_origins(request)
        if origins is not None:
            response.xframe_options_exempt = True
            replace = getattr(response, "_csp_replace", None) or {}
            replace["frame-ancestors"] = ["'self'", *origins]
            response._csp_replace = replace
        return response
