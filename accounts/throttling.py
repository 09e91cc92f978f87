"""Failed sign-in throttling (django-axes): who the client is, and what a locked-out client
is told. Axes keys every failure by (username, client address) (settings.AXES_*)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

DICOMWEB_PREFIX = "/dicomweb/"


def client_ip_address(request: HttpRequest) -> str | None:
    """The address of the client, seen through exactly TRUSTED_PROXY_COUNT reverse proxies.

    Each proxy appends the address it received the request from to X-Forwarded-For, so the
    client is the entry TRUSTED_PROXY_COUNT places from the right; anything further left was
    written by the client and proves nothing. Without trusted proxies the header is ignored
    and REMOTE_ADDR is the client. A malformed entry falls back to REMOTE_ADDR.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def _cool_off_minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """429 for a locked-out (account, address) pair: plain text for DICOMweb clients, the
    login page's look for people."""
    minutes = _cool_off_minutes()
    if request.path_info.startswith(DICOMWEB_PREFIX):
        response = HttpResponse(
            f"Too many failed sign-ins for this account from your address. Try again in "
            f"{minutes} minutes without a failed attempt, or ask a programme admin to "
            f"unlock it.\n",
            status=429,
            content_type="text/plain",
        )
        response["Retry-After"] = str(minutes * 60)
        return response
    response = render(
        request,
        "registration/locked_out.html",
        {"cool_off_minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response


# The lockout rule the one-query check below mirrors: failures counted per (username, client
# address) in django-axes' database, forgotten after a fixed cool-off, no address lists. Any
# other set-up (other lockout parameters or handler, a computed cool-off, an address block
# or allow list) leaves every check to axes.
_MIRRORED_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
_MIRRORED_HANDLER = "axes.handlers.database.AxesDatabaseHandler"


def _lockout_rule_mirrored() -> bool:
    return (
        settings.AXES_LOCKOUT_PARAMETERS == _MIRRORED_LOCKOUT_PARAMETERS
        and settings.AXES_HANDLER == _MIRRORED_HANDLER
        and isinstance(settings.AXES_COOLOFF_TIME, timedelta)
        and not settings.AXES_IP_BLACKLIST
        and not settings.AXES_ONLY_WHITELIST
    )


def active_user_and_failures(*, user_pk: int, username: str, address: str | None):
    """The active account `user_pk` (None if it is gone or inactive) and whether a failed
    sign-in of (`username`, `address`) is on record within the cool-off, in one query.

    For a credential verified moments ago (DICOMweb Basic sends it with every request):
    django-axes answers the same question with two queries built by the ORM, which cost a
    DICOMweb search more than the search itself (issue 18, item 4). No failure on record
    means axes cannot refuse the pair (it refuses at AXES_FAILURE_LIMIT >= 1 failures); when
    there is one, or the lockout rule is not the mirrored one, `True` is returned and the
    caller asks axes itself.
    """
    from axes.models import AccessAttempt

    from accounts.models import User

    mirrored = _lockout_rule_mirrored() and address
    attempts = AccessAttempt._meta.db_table
    users = User._meta.db_table
    if mirrored:
        # Table names from the models; every value goes in as a parameter.
        failures_sql = (
            f"EXISTS (SELECT 1 FROM {attempts} WHERE username = %s "  # noqa: S608
            "AND ip_address = %s AND attempt_time >= %s AND failures_since_start > 0)"
        )
        since = connection.ops.adapt_datetimefield_value(
            timezone.now() - settings.AXES_COOLOFF_TIME
        )
        params = [username, address, since, user_pk]
    else:
        failures_sql, params = "TRUE", [user_pk]
    sql = (
        f"SELECT *, {failures_sql} AS failures_on_record FROM {users} "  # noqa: S608
        "WHERE id = %s AND is_active"
    )
    user = next(iter(User.objects.raw(sql, params)), None)
    if user is None:
        return None, True
    return user, bool(user.failures_on_record)
