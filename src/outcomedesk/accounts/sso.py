"""How django-allauth logs people in: nobody signs up by themselves; single sign-on creates the account of a
person the identity provider vouches for on their first login (just in time)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import render_authentication_error
from django.http import HttpRequest, HttpResponse
from requests import RequestException

from outcomedesk.accounts.directory import DirectoryMappingError, DirectoryPerson
from outcomedesk.accounts.services import apply_directory_person
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.models import Channel

logger = logging.getLogger(__name__)


class SsoRefused(Exception):
    """The identity provider signed the person in, but Outcomedesk cannot give them an account (the reason is
    shown to them)."""


class AccountAdapter(DefaultAccountAdapter):
    """Local accounts: created by an admin, the command line or the directory, never by a visitor."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class ResetPasswordForm(AllauthResetPasswordForm):
    """"Forgot your password?" resets local passwords only: a person who signs in through SSO or the directory
    has no password here to reset, and must not get one by e-mail behind the identity provider's back."""

    def clean_email(self) -> str:
        email = super().clean_email()
        found: list[Any] = list(getattr(self, "users", []))
        self.users = [user for user in found if user.has_usable_password()]
        return email


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """SSO logins: the identity provider vouches for the person, so their first login creates the account."""

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        """Just in time: the person's account is created or brought up to date from what the identity provider
        says (names, e-mail, department, manager, groups → desks and roles) by the directory service, the one
        writer of directory people, then linked to this SSO identity."""
        provider = sociallogin.account.get_provider()
        person = directory_person(provider, sociallogin.account.uid, sociallogin.account.extra_data)
        try:
            outcome = apply_directory_person(person, user=sociallogin.user if sociallogin.is_existing else None,
                                             channel=Channel.WEB)
        except (InvalidInput, DirectoryMappingError) as exc:
            message = "; ".join(f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"])
                                for e in exc.as_dicts()) if isinstance(exc, InvalidInput) else str(exc)
            logger.warning("SSO login of %r through %s refused: %s", person.username, person.source, message)
            raise ImmediateHttpResponse(render_authentication_error(
                request, provider, exception=SsoRefused(f"your account could not be set up ({message})")
            )) from exc
        if sociallogin.is_existing:
            sociallogin.user = outcome.user
        else:
            sociallogin.connect(request, outcome.user)

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


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip()


def _names(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return frozenset(str(v).strip() for v in value if str(v).strip())


def directory_person(provider: Any, uid: str, extra_data: Any) -> DirectoryPerson:
    """The person an identity provider describes: OIDC claims (ID token and userinfo) or SAML attributes."""
    settings: dict[str, Any] = provider.app.settings or {}
    if provider.id == "saml":
        attributes: dict[str, Any] = extra_data if isinstance(extra_data, dict) else {}
        mapping: dict[str, Any] = settings.get("attribute_mapping") or {}

        def attribute(key: str, *defaults: str) -> Any:
            names = mapping.get(key) or list(defaults)
            for name in [names] if isinstance(names, str) else names:
                if attributes.get(name):
                    return attributes[name]
            return None

        username = _first(attribute("username")) or _first(attribute("uid")) or uid
        return DirectoryPerson(
            source=f"saml:{provider.app.client_id}", external_id=uid, username=username,
            email=_first(attribute("email")), first_name=_first(attribute("first_name")),
            last_name=_first(attribute("last_name")),
            display_name=_first(attribute("display_name", "displayName", "urn:oid:2.16.840.1.113730.3.1.241")),
            department=_first(attribute("department", "department", "ou", "urn:oid:2.5.4.11")),
            manager_username=_first(attribute("manager", "manager")),
            groups=_names(attributes.get(settings.get("groups_attribute") or "groups")),
        )
    data = extra_data if isinstance(extra_data, dict) else {}
    claims = {**(data.get("id_token") or {}), **(data.get("userinfo") or {})} if (
        "id_token" in data or "userinfo" in data) else dict(data)
    email = _first(claims.get("email"))
    username = _first(claims.get("preferred_username")) or email.split("@")[0] or uid
    return DirectoryPerson(
        source=f"oidc:{provider.app.provider_id}", external_id=uid, username=username, email=email,
        first_name=_first(claims.get("given_name")), last_name=_first(claims.get("family_name")),
        display_name=_first(claims.get("name")), department=_first(claims.get("department")),
        manager_username=_first(claims.get("manager")),
        groups=_names(claims.get(settings.get("groups_claim") or "groups")),
    )


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
