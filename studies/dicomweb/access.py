"""Who is asking, and how errors are answered, for every DICOMweb view.

DICOMweb clients (dicomweb-client, PACS tools) cannot follow a login form: they send HTTP
Basic credentials (RFC 7617), checked by the site's own authentication backends. The
browser viewer sends its Django session. Anonymous requests get 401 with a Basic
challenge. A session-authenticated unsafe request (STOW-RS from the browser) must pass the
CSRF check as every other form does; Basic-authenticated requests carry no ambient cookie.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
from collections.abc import Callable

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from accounts.backends import ArtefactModelBackend
from accounts.throttling import active_user_and_failures, client_ip_address
from studies.selectors import UID_PATTERN, UnsupportedMatch

REALM = "Artefact DICOMweb"
# Password hashing costs hundreds of milliseconds by design; a DICOMweb client sends the
# same credentials with every frame. A verified (username, password, client address) is
# remembered briefly in this process, keyed by an HMAC under SECRET_KEY (the password is
# never stored), and used only while the user is active, may sign in, and has the password
# hash it had when verified: changing the password or deactivating the account ends it at
# once. Only successes are remembered, so every wrong password still goes through
# django-axes (counted, throttled). The client address is part of the key because axes
# locks an (account, address) pair: a credential verified from one address must not let a
# locked-out address in. See docs/security.md, "DICOMweb HTTP Basic".
_BASIC_CACHE_SECONDS = 60
_BASIC_CACHE_MAX = 1000
_basic_cache: dict[str, tuple[int, str, float]] = {}


class DicomwebError(Exception):
    """An error with its HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


def uid_check(value: str, *, what: str) -> str:
    """A UID from the URL, checked strictly (PS3.5 §9.1): anything else, such as '..' or an
    encoded slash, is refused before it gets near a query or a path."""
    if not UID_PATTERN.fullmatch(value):
        raise DicomwebError(400, f"{what} {value[:80]!r} is not a valid UID.")
    return value


def _could_be_a_username(username: str) -> bool:
    model = get_user_model()
    longest = model._meta.get_field(model.USERNAME_FIELD).max_length
    return len(username) <= longest and "\x00" not in username


def _basic_user(request: HttpRequest):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        username, _, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not _could_be_a_username(username):
        # The login form refuses these (its field's length and NUL checks) before any
        # query; here they would reach axes' failure record, which PostgreSQL refuses
        # (a 500). No account has such a name: the answer is the wrong-credentials one.
        return None
    address = client_ip_address(request) or ""
    key = hmac.new(
        settings.SECRET_KEY.encode(),
        f"{username}\x1f{password}\x1f{address}".encode(),
        hashlib.sha256,
    ).hexdigest()
    cached = _basic_cache.get(key)
    if cached is not None and cached[2] > time.monotonic():
        user, failures_on_record = active_user_and_failures(
            user_pk=cached[0], username=username, address=address
        )
        if (
            user is not None
            and hmac.compare_digest(user.password, cached[1])
            and ArtefactModelBackend().user_can_authenticate(user)
            # A lockout of this (account, address) since, seen by whichever process
            # counted the failures: the full check below then answers it (429). Axes is
            # asked only when a failure is on record (see active_user_and_failures).
            and (
                not failures_on_record
                or AxesProxyHandler.is_allowed(request, {"username": username})
            )
        ):
            return user
    _basic_cache.pop(key, None)
    user = authenticate(request, username=username, password=password)
    if user is None:
        return None
    if len(_basic_cache) >= _BASIC_CACHE_MAX:
        _basic_cache.clear()
    _basic_cache[key] = (user.pk, user.password, time.monotonic() + _BASIC_CACHE_SECONDS)
    return user


def dicomweb_endpoint(view: Callable) -> Callable:
    """Authenticate (session or Basic), check CSRF for session writes, validate UIDs in the
    URL, and turn DicomwebError / Http404 / UnsupportedMatch into plain-text answers."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, **kwargs):
        if request.user.is_authenticated:
            if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
                rejection = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                if rejection is not None:
                    return rejection
        else:
            user = _basic_user(request)
            if user is None:
                return error_response(401, "Authentication required (session or HTTP Basic).")
            request.user = user
        try:
            for name, what in (
                ("study", "StudyInstanceUID"),
                ("series", "SeriesInstanceUID"),
                ("instance", "SOPInstanceUID"),
            ):
                if name in kwargs:
                    uid_check(kwargs[name], what=what)
            return view(request, **kwargs)
        except DicomwebError as error:
            return error_response(error.status, str(error))
        except UnsupportedMatch as error:
            return error_response(400, str(error))
        except Http404 as error:
            return error_response(404, str(error) or "Not found.")

    return wrapper
