from __future__ import annotations

from django.utils import timezone
from wagtail.models import APIToken

MAX_TOKENS_PER_USER = 5
NAME_MAX_LENGTH = 100


class TokenRefused(Exception):
    pass


def token_create(*, user, name: str) -> tuple[APIToken, str]:
    """A new token for the user; the plain token is returned once and never stored."""
    name = (name or "").strip()
    if not name:
        raise TokenRefused("Give the token a name, e.g. the script or system that uses it.")
    if len(name) > NAME_MAX_LENGTH:
        raise TokenRefused(f"A token's name has at most {NAME_MAX_LENGTH} characters.")
    if APIToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
        raise TokenRefused(
            f"You already have {MAX_TOKENS_PER_USER} tokens. Revoke one you no longer use first."
        )
    return APIToken.create_token(user=user, name=name)


def token_revoke(*, user, token_pk: int) -> bool:
    """Revoke one of the user's own tokens; False when there is no such live token."""
    return bool(
        APIToken.objects.filter(pk=token_pk, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )
