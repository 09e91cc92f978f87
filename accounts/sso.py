"""Single sign-on with OpenID Connect: mozilla-django-oidc's authorization-code flow (PKCE
S256, state and nonce), with what Artefact adds on top of it:

- the ID token's issuer and audience are checked (OIDC Core §3.1.3.7, items 2-3; the
  library checks signature, expiry and nonce only), and userinfo must be about the same
  `sub` (§5.3.2);
- the account is found by (issuer, sub) and its role and cohorts set from the claims, by
  accounts.services.user_sign_in_by_sso;
- every way the flow can fail (consent declined, a state we did not issue, a token that
  does not verify, a provider that does not answer, a role we do not grant) ends on a page
  that says what happened, never on a 500.

Settings: OIDC_* and SSO_ENABLED (config/settings.py); with SSO_ENABLED off both URLs 404.
"""

from __future__ import annotations

import logging

import jwt
import requests
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from accounts.services import SsoRefused, user_sign_in_by_sso

logger = logging.getLogger(__name__)


class ArtefactOIDCBackend(OIDCAuthenticationBackend):
    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation("The ID token was issued by another issuer.")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience or []
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token is not meant for this client.")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("Userinfo is about another subject than the ID token.")
        # The role and cohort claims may come in the ID token or from userinfo.
        return user_sign_in_by_sso(issuer=settings.OIDC_ISSUER, claims={**payload, **userinfo})

    def get_user(self, user_id):
        # The library's get_user returns disabled accounts too; Django's refuses them.
        return ModelBackend.get_user(self, user_id)


def sso_refusal(request: HttpRequest, *, reason: str, status: int) -> HttpResponse:
    """The page every failed single sign-on ends on: what happened, and the way back."""
    return render(
        request,
        "registration/sso_failed.html",
        {"reason": reason, "provider_name": settings.OIDC_PROVIDER_NAME},
        status=status,
    )


class SsoStartView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider with a fresh state, nonce and PKCE challenge."""

    def get(self, request):
        if not settings.SSO_ENABLED:
            raise Http404("Single sign-on is not configured.")
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here with a code (or an error)."""

    def get(self, request):
        if not settings.SSO_ENABLED:
            raise Http404("Single sign-on is not configured.")
        if request.GET.get("error"):
            super().get(request)  # forgets the state and signs out, as the library does
            declined = request.GET["error"] == "access_denied"
            return sso_refusal(
                request,
                reason=(
                    "You did not allow Artefact to use your sign-in."
                    if declined
                    else f"{settings.OIDC_PROVIDER_NAME} did not sign you in "
                    f"({request.GET['error'][:60]})."
                ),
                status=403,
            )
        state = request.GET.get("state")
        if not request.GET.get("code") or not state:
            return sso_refusal(
                request, reason="The answer from your sign-in was incomplete.", status=400
            )
        if state not in request.session.get("oidc_states", {}):
            return sso_refusal(
                request,
                reason="This sign-in was not started here, or it was already used or expired. "
                "Please start again.",
                status=400,
            )
        try:
            return super().get(request)
        except SsoRefused as refusal:
            return sso_refusal(request, reason=str(refusal), status=403)
        except (SuspiciousOperation, jwt.PyJWTError) as error:
            logger.warning("SSO answer refused: %s", error)
            return sso_refusal(
                request, reason="The answer from your sign-in could not be verified.", status=400
            )
        except requests.HTTPError as error:
            logger.warning("SSO provider refused the code: %s", error)
            status = error.response.status_code if error.response is not None else 502
            if status < 500:
                return sso_refusal(
                    request,
                    reason=f"{settings.OIDC_PROVIDER_NAME} did not accept this sign-in. "
                    "Please start again.",
                    status=400,
                )
            return self._provider_unreachable(request)
        except (requests.RequestException, ValueError) as error:
            # ValueError: an answer that is not JSON.
            logger.warning("SSO provider unreachable: %s", error)
            return self._provider_unreachable(request)

    @staticmethod
    def _provider_unreachable(request):
        return sso_refusal(
            request,
            reason=f"{settings.OIDC_PROVIDER_NAME} cannot be reached just now. Try again in a "
            "few minutes, or sign in with your local account.",
            status=502,
        )

    def login_failure(self):
        if self.request.user.is_authenticated:
            auth.logout(self.request)
        return sso_refusal(self.request, reason="You could not be signed in.", status=403)


class ArtefactLoginView(LoginView):
    """Django's login page, offering single sign-on beside the form when it is configured."""

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "sso_enabled": settings.SSO_ENABLED,
            "sso_provider_name": settings.OIDC_PROVIDER_NAME,
        }
