"""The LTI tool's endpoints (JWKS, OIDC login initiation, launch) and its two pages for
educators (Deep Linking's content picker, an LMS course's roster). Thin: the launch's
checks are pylti1p3's (signature, expiry, nonce issued by us, state, registration,
deployment) plus ours (a nonce is spent once, lti.services.launch_nonce_spend); anything
refused is a 4xx page that says why, never a 500."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from lti_tool.models import Key, LtiLaunch
from lti_tool.utils import DjangoToolConfig, get_launch_from_request
from lti_tool.views import LtiLaunchBaseView
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoOIDCLogin
from pylti1p3.exception import LtiException, OIDCException

from accounts import permissions
from lti import selectors, services

logger = logging.getLogger(__name__)


def refused(request, message: str, status: int = 400) -> HttpResponse:
    return render(request, "lti/refused.html", {"message": message}, status=status)


@require_GET
def jwks(request):
    """The tool's public keys (JWKS), which platforms verify our signatures with."""
    services.tool_key_ensure()
    return JsonResponse(Key.objects.as_jwks())


@method_decorator((csrf_exempt, xframe_options_exempt), name="dispatch")
class LoginInitView(View):
    """OIDC third-party login initiation (LTI 1.3 §5.1.1): redirect to the platform's
    authorisation endpoint with a fresh state and nonce. No cookie-check page: it needs
    inline script, which the site's CSP forbids; the state is checked in the cache."""

    def get(self, request, registration_uuid):
        return self._initiate(request, registration_uuid, request.GET)

    def post(self, request, registration_uuid):
        return self._initiate(request, registration_uuid, request.POST)

    def _initiate(self, request, registration_uuid, params):
        target_link_uri = params.get("target_link_uri")
        if not target_link_uri:
            return refused(request, _("The platform's login request names no target link."))
        # The id_token is posted to the target link: only our own launch URL may receive it.
        if urlsplit(target_link_uri).path != reverse("lti:launch") or not (
            url_has_allowed_host_and_scheme(target_link_uri, allowed_hosts={request.get_host()})
        ):
            return refused(request, _("The platform's target link is not Artefact's launch URL."))
        services.tool_key_ensure()
        login = DjangoOIDCLogin(
            request,
            DjangoToolConfig(registration_uuid),
            launch_data_storage=DjangoCacheDataStorage(),
        )
        try:
            return login.disable_check_cookies().redirect(target_link_uri)
        except (OIDCException, LtiException) as error:
            return refused(
                request,
                _("This platform is not registered with Artefact: %(why)s") % {"why": error},
            )


@method_decorator(csrf_exempt, name="dispatch")
class LaunchView(LtiLaunchBaseView):
    """The launch (LTI 1.3 §5.1.2): a resource link opens its course, module, lesson or
    assessment; a deep-linking request opens the content picker."""

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except services.LaunchRefused as error:
            return refused(request, str(error), error.status)
        except LtiException as error:
            logger.info("LTI launch refused: %s", error)
            return refused(request, _("The launch could not be verified: %(why)s") % {"why": error})
        except (KeyError, TypeError, ValueError) as error:
            logger.info("LTI launch malformed: %r", error)
            return refused(request, _("The launch message is incomplete or malformed."))

    def launch_setup(self, request, lti_launch: LtiLaunch) -> None:
        services.launch_nonce_spend(lti_launch=lti_launch)

    def handle_inactive_deployment(self, request, lti_launch: LtiLaunch) -> HttpResponse:
        return refused(
            request,
            _(
                "This LMS deployment is not enabled in Artefact. A programme admin enables it "
                "under LTI tool > registrations."
            ),
            403,
        )

    def handle_resource_launch(self, request, lti_launch: LtiLaunch) -> HttpResponse:
        return redirect(services.launch_resource(request=request, lti_launch=lti_launch))

    def handle_deep_linking_launch(self, request, lti_launch: LtiLaunch) -> HttpResponse:
        user = services.launch_sign_in(request=request, lti_launch=lti_launch)
        if not permissions.may(user, "lti.place_content"):
            return refused(request, _("Only educators place Artefact content in a course."), 403)
        request.session[services.SESSION_DEEP_LINK] = lti_launch.get_launch_id()
        return redirect("lti:deep_link")

    def handle_submission_review_launch(self, request, lti_launch):
        return refused(request, _("Submission review is not offered by Artefact."))

    def handle_data_privacy_launch(self, request, lti_launch):
        return refused(request, _("Data privacy launches are not offered by Artefact."))


@login_required
@require_http_methods(["GET", "POST"])
def deep_link(request):
    """Deep Linking 2.0: the educator picks content; the signed response goes back to the
    platform through the browser (a form the educator submits: no inline script)."""
    if not permissions.may(request.user, "lti.place_content"):
        raise PermissionDenied
    launch_id = request.session.get(services.SESSION_DEEP_LINK)
    try:
        lti_launch = get_launch_from_request(request, launch_id) if launch_id else None
    except LtiException:
        lti_launch = None
    if lti_launch is None or not lti_launch.is_deep_link_launch:
        return refused(
            request, _("Choose 'add content' in your LMS to place Artefact content there.")
        )
    if request.method == "POST":
        targets = [services.target_object(key) for key in request.POST.getlist("target")]
        targets = [target for target in targets if target is not None]
        if targets:
            return_url, jwt_value = services.deep_link_response_jwt(
                request=request, lti_launch=lti_launch, targets=targets
            )
            del request.session[services.SESSION_DEEP_LINK]
            response = render(
                request,
                "lti/deep_link_return.html",
                {"return_url": return_url, "jwt": jwt_value, "targets": targets},
            )
            # The one page whose form posts to the platform.
            response._csp_update = {"form-action": [selectors.url_origin(return_url)]}
            return response
        messages.error(request, _("Choose at least one item."))
    return render(request, "lti/deep_link.html", {"content": selectors.placeable_content()})


@login_required
@require_GET
def context_list(request):
    """The LMS courses an educator teaches (through a launch) or an admin oversees."""
    if not permissions.may(request.user, "lti.place_content"):
        raise PermissionDenied
    return render(
        request, "lti/context_list.html", {"contexts": selectors.contexts_for(request.user)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def roster(request, context_pk: int):
    """An LMS course's members (NRPS): shown, and fetched again on request."""
    context = permissions.access_or_404(
        request.user, "lti.view_roster", selectors.context_by_pk(context_pk)
    )
    if request.method == "POST":
        if not context.memberships_url:
            messages.error(request, _("This LMS course offers no roster service."))
        else:
            try:
                count = services.roster_sync(context=context)
            except (LtiException, requests.RequestException) as error:
                messages.error(
                    request, _("The LMS did not give the roster: %(why)s") % {"why": error}
                )
            else:
                messages.success(request, _("%(n)d members fetched from the LMS.") % {"n": count})
        return redirect("lti:roster", context_pk=context.pk)
    return render(
        request,
        "lti/roster.html",
        {"context": context, "members": selectors.context_roster(context)},
    )
