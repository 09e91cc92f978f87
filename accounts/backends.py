"""The password backend: Django's, except that demo accounts are refused in production."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class ArtefactModelBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        """Demo accounts (made by the demo set-up, is_demo) never sign in where
        DEMO_LOGIN_ALLOWED is off (ARTEFACT_ENV=production). Django asks this both when a
        password is checked (login form, DICOMweb Basic) and when a session is read, so a
        demo session made before the switch stops working too."""
        if getattr(user, "is_demo", False) and not settings.DEMO_LOGIN_ALLOWED:
            return False
        return super().user_can_authenticate(user)
