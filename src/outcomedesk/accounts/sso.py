"""How django-allauth logs people in: nobody signs up by themselves; single sign-on creates the account of a
person the identity provider vouches for on their first login (just in time)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import render_authentication_error
from django.http import HttpRequest, HttpResponse
from requests import RequestException

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    """Local accounts: created by an admin, the command line or the directory, never by a visitor."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """SSO logins: the identity provider vouches for the person, so their first login creates the account."""

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True

    def on_authentication_error(self, request: HttpRequest, provider: Any, error: Any = None,
                                exception: BaseException | None = None,
                                extra_context: dict[str, Any] | None = None) -> None:
        """Say why, in words a person can pass on to the service desk (never the secrets of the exchange)."""
        context = extra_context if extra_context is not None else {}
        reason = context.get("saml_last_error_reason") or ""
        if isinstance(exception, RequestException | OSError):
            reason = "it could not be reached"
        elif exception is not None and not reason:
            reason = str(exception)[:300]
        context["sso_error_reason"] = reason
        logger.warning("SSO login through %s failed: %s %s", getattr(provider, "name", provider), error,
                       reason or exception)


def unreachable_provider_guard(view: Callable[..., HttpResponse], provider_kwarg: str) -> Callable[..., HttpResponse]:
    """An allauth login view that answers "could not be reached" when the identity provider is down (its discovery
    document or metadata cannot be fetched), instead of a server error."""

    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (RequestException, OSError) as exc:
            provider_id = kwargs.get(provider_kwarg, "")
            adapter = get_social_adapter(request)
            provider = None
            for candidate in adapter.list_providers(request):
                if provider_id in (candidate.app.provider_id, candidate.app.client_id):
                    provider = candidate
            host = urlsplit(str(getattr(getattr(exc, "request", None), "url", "") or "")).netloc
            logger.warning("identity provider %s unreachable %s: %s", provider_id, host, exc)
            return render_authentication_error(request, provider, exception=exc)

    return guarded
