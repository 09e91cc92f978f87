"""`Authorization: Bearer <token>` for the REST API (tokens from api.services)."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from api import selectors


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the session (or nobody) is asked next
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send exactly one token: 'Bearer <token>'.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed(
                "The token has characters no token has."
            ) from error
        user = selectors.token_user(token)
        if user is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or inactive token.")
        return (user, token)

    def authenticate_header(self, request):
        # Makes an unauthenticated request a 401 (with this challenge), not a 403.
        return self.keyword
