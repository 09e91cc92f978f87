from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from wagtail.models import APIToken

# Wagtail 8's APIToken is the token model: only an HMAC of the token is stored, keyed by
# SECRET_KEY (and its fallbacks, so tokens survive a key rotation window).
LAST_USED_EVERY_SECONDS = 60


def token_user(token: str):
    """The active user a live token belongs to, or None. Marks the token used at most once a
    minute, so that a busy script does not write on every request."""
    if not APIToken.validate_token_format(token):
        return None  # cannot exist: no database query for garbage
    found = (
        APIToken.objects.select_related("user")
        .filter(key_hash__in=APIToken.candidate_key_hashes(token), revoked_at__isnull=True)
        .first()
    )
    if found is None or not found.user.is_active:
        return None
    now = timezone.now()
    every = getattr(settings, "WAGTAILAPI_TOKEN_LAST_USED_INTERVAL", LAST_USED_EVERY_SECONDS)
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() >= every:
        APIToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.user


def tokens_of(user) -> list[APIToken]:
    return list(APIToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created"))
