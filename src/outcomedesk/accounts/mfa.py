"""Two-factor authentication required per role (django-allauth's `allauth.mfa` does the factors themselves).

A platform admin ticks, in the admin, the roles whose people must use two-factor authentication
(`MfaRequirement`). A person of such a role who has no authenticator app or security key yet is sent to set one
up before anything else (`RequireMfaMiddleware`), and the API refuses their browser session until then; bearer
tokens are unaffected. A session signed in through single sign-on is trusted to the identity provider's own MFA
unless `OUTCOMEDESK_MFA_TRUST_SSO=false`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import MfaRequirement, MfaRole

CACHE_KEY = "outcomedesk:mfa-required-roles"
# Each process reads the requirement at most once a minute: a change in the admin applies everywhere within it.
CACHE_SECONDS = 60
# What a person who must set up MFA may still reach: the MFA pages, re-entering their password for them, logout.
SETUP_PATH_NAMES = ("mfa_index", "account_reauthenticate", "logout")


def required_roles() -> frozenset[str]:
    """The roles whose people must use two-factor authentication."""
    roles: frozenset[str] | None = cache.get(CACHE_KEY)
    if roles is None:
        roles = frozenset(MfaRequirement.objects.filter(required=True).values_list("role", flat=True))
        cache.set(CACHE_KEY, roles, CACHE_SECONDS)
    return roles


def forget_required_roles() -> None:
    cache.delete(CACHE_KEY)


def roles_of(user: Any) -> frozenset[str]:
    """The MFA roles a person holds, as the access policy knows them."""
    held = policy.roles(user)
    roles = {MfaRole.PLATFORM_ADMIN: held.admin, MfaRole.SERVICE_MANAGER: held.service_manager,
             MfaRole.DESK_MANAGER: held.desk_manager, MfaRole.AGENT: held.desk_agent, MfaRole.EXECUTIVE: held.executive}
    return frozenset(str(role) for role, holds in roles.items() if holds)


def has_mfa(user: Any) -> bool:
    """An authenticator app or a security key (recovery codes alone are not a second factor)."""
    return Authenticator.objects.filter(
        user_id=user.pk, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
    ).exists()


def signed_in_through_sso(request: HttpRequest) -> bool:
    from allauth.account.internal.flows.login import get_authentication_records

    records = get_authentication_records(request, getattr(request, "user", None))
    return any(record.get("method") == "socialaccount" for record in records)


def mfa_setup_pending(request: HttpRequest) -> bool:
    """The signed-in person must set up two-factor authentication before using Outcomedesk."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    cached: bool | None = getattr(request, "_outcomedesk_mfa_pending", None)
    if cached is not None:
        return cached
    required = required_roles()
    pending = bool(required and roles_of(user) & required)
    if pending and getattr(settings, "OUTCOMEDESK_MFA_TRUST_SSO", True) and signed_in_through_sso(request):
        pending = False
    if pending:
        pending = not has_mfa(user)
    request._outcomedesk_mfa_pending = pending  # type: ignore[attr-defined]
    return pending


class RequireMfaMiddleware:
    """Sends a person whose role requires two-factor authentication, and who has none yet, to set it up: every
    page but the MFA pages and logout redirects there. The API (/api/) answers for itself (api/api.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if mfa_setup_pending(request) and not self._allowed(request.path_info):
            messages.warning(request, "Your role requires two-factor authentication: set up an authenticator app "
                                      "(or a security key) to continue.")
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    @staticmethod
    def _allowed(path: str) -> bool:
        if path.startswith(("/api/", settings.STATIC_URL or "/static/")):
            return True
        return any(path.startswith(reverse(name)) for name in SETUP_PATH_NAMES)
