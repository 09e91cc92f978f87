"""Failed sign-in throttling (django-axes): who the client is, and what a locked-out client
is told. Axes keys every failure by (username, client address) (settings.AXES_*)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

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
