"""Login lockout (django-axes): who is trying, from where, and the API tokens' share of it.

The web login, the admin login and any other login that goes through Django's `authenticate()` are watched by
`axes.backends.AxesStandaloneBackend` (first in AUTHENTICATION_BACKENDS). Bearer tokens do not go through
`authenticate()`, so the API tells axes about a bad token itself (`record_bad_token`) and asks it before looking a
token up (`check_token_attempts`): the failures are then the same AccessAttempt rows, shown, cleared and expired
like the others (admin, `outcomedesk axes_reset`). A bad token has no username, so its attempts are counted under
the pseudo-username `TOKEN_USERNAME` (no real username can hold a space or a parenthesis) and thus per address.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from outcomedesk.core.errors import ServiceError

TOKEN_USERNAME = "(bearer token)"
# The credential names a login may carry its username under: Django's forms and django-allauth's.
_USERNAME_KEYS = ("username", "login", "email")


class TooManyAttempts(ServiceError):
    """Too many failed logins or bad tokens from this address: refused until the lockout ends."""

    status = 429


def attempted_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The username a login attempt is counted under (AXES_USERNAME_CALLABLE): as typed, trimmed and in lower case,
    so that `Alice` and `alice ` are not fresh attempts."""
    sources: list[Any] = [credentials or {}]
    if request is not None:
        sources.append(request.POST)
    for source in sources:
        for key in _USERNAME_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()[:255]
    return None


def client_address(request: HttpRequest) -> str | None:
    """The address a login attempt comes from (AXES_CLIENT_IP_CALLABLE).

    Behind a proxy (OUTCOMEDESK_BEHIND_PROXY) it is the last X-Forwarded-For entry: the one our proxy appended,
    which a client cannot forge (entries to its left are whatever the client sent). Otherwise, and whenever the
    header holds no valid address, the peer's address: a client's own X-Forwarded-For is never believed."""
    if getattr(settings, "OUTCOMEDESK_BEHIND_PROXY", False):
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops and (forwarded := _address(hops[-1])):
            return forwarded
    # A server that applied X-Forwarded-For itself (waitress behind a proxy) may have put anything here.
    return _address(request.META.get("REMOTE_ADDR", ""))


def _address(text: str) -> str | None:
    """`text` as an IP address (stored in an inet column on PostgreSQL), or None."""
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        return None


def lockout_message() -> str:
    minutes = settings.OUTCOMEDESK_LOCKOUT_MINUTES
    return (f"too many failed attempts from this address: locked out for {minutes} minute{'s' if minutes != 1 else ''}"
            " after the last one (an administrator can lift it sooner)")


def check_token_attempts(request: HttpRequest) -> None:
    """Refuse bearer-token authentication from an address locked out by bad tokens."""
    from axes.handlers.proxy import AxesProxyHandler

    enabled = getattr(settings, "AXES_ENABLED", True)
    if enabled and not AxesProxyHandler.is_allowed(request, {"username": TOKEN_USERNAME}):
        raise TooManyAttempts(lockout_message(), field="Authorization")


def record_bad_token(request: HttpRequest) -> None:
    """Count a bearer token that matched no token, as axes counts a failed login."""
    user_login_failed.send(sender=__name__, credentials={"username": TOKEN_USERNAME}, request=request)
