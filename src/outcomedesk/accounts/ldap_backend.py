"""The LDAP / Active Directory login (django-auth-ldap), on the settings of `OUTCOMEDESK_LDAP_*`.

django-auth-ldap finds the person's entry and checks their password with a bind; the account is then made or
updated by `accounts.services.apply_directory_person` (just in time), with the desks and roles of the group
mapping. The library's own attribute and group mirroring is off.
"""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django.conf import settings
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import LDAPSearch, MemberDNGroupType

from outcomedesk.accounts import services
from outcomedesk.accounts.directory import DirectoryMappingError, normalise_group
from outcomedesk.accounts.ldap import LdapConfig, manager_username_from_dn, person_from_entry
from outcomedesk.accounts.models import User
from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.models import Channel

logger = logging.getLogger(__name__)


def _config() -> LdapConfig:
    config = getattr(settings, "OUTCOMEDESK_LDAP", None)
    if not isinstance(config, LdapConfig):
        raise RuntimeError("the LDAP backend is installed but OUTCOMEDESK_LDAP_URL is not set")
    return config


class DirectoryLDAPBackend(LDAPBackend):
    """Password login against the directory; the account follows the directory at every login."""

    @property
    def default_settings(self) -> dict[str, Any]:
        config = _config()
        options: dict[Any, Any] = {ldap.OPT_REFERRALS: 0, ldap.OPT_NETWORK_TIMEOUT: config.timeout,
                                   ldap.OPT_TIMEOUT: config.timeout}
        if config.ca_file:
            options[ldap.OPT_X_TLS_CACERTFILE] = config.ca_file
            options[ldap.OPT_X_TLS_NEWCTX] = 0
        values: dict[str, Any] = {
            "SERVER_URI": config.url,
            "BIND_DN": config.bind_dn,
            "BIND_PASSWORD": config.bind_password,
            "START_TLS": config.start_tls,
            "CONNECTION_OPTIONS": options,
            "USER_SEARCH": LDAPSearch(config.user_search_base, ldap.SCOPE_SUBTREE, config.user_filter,
                                      attrlist=config.attribute_list()),
            "USER_ATTRLIST": config.attribute_list(),
            "ALWAYS_UPDATE_USER": False,  # apply_directory_person does it
            "USER_ATTR_MAP": {},
            "MIRROR_GROUPS": None,
        }
        if config.group_search_base:
            values["GROUP_SEARCH"] = LDAPSearch(config.group_search_base, ldap.SCOPE_SUBTREE, config.group_filter)
            values["GROUP_TYPE"] = MemberDNGroupType(config.group_member_attr, name_attr=config.group_name_attr)
        return values

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        return user if user is not None and user.is_active else None

    def get_user(self, user_id: int) -> User | None:
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[User, bool]:
        """Called once the password bind succeeded: make or update the account from the entry."""
        config = _config()
        groups: set[str] = set()
        if config.group_search_base:
            groups = {normalise_group(g) for g in ldap_user.group_dns | ldap_user.group_names}
        attrs = ldap_user.attrs
        manager_dn = next(iter(attrs.get(config.manager_attr, []) if config.manager_attr else []), "")
        manager = self._manager_username(config, ldap_user, str(manager_dn)) if manager_dn else ""
        person = person_from_entry(config, ldap_user.dn, attrs, groups=groups, manager_username=manager)
        try:
            outcome = services.apply_directory_person(person, channel=Channel.WEB)
        except (InvalidInput, DirectoryMappingError) as exc:
            logger.error("LDAP login of %s refused: %s", username, exc)
            raise ldap_user.AuthenticationFailed(str(exc)) from None
        return outcome.user, False

    @staticmethod
    def _manager_username(config: LdapConfig, ldap_user: Any, manager_dn: str) -> str:
        """The manager's username: from their DN when it is named by it, else read from their entry."""
        name = manager_username_from_dn(config, manager_dn)
        if name:
            return name
        try:
            found = ldap_user.connection.search_s(manager_dn, ldap.SCOPE_BASE, attrlist=[config.username_attr])
        except ldap.LDAPError as exc:
            logger.warning("cannot read the manager %s: %s", manager_dn, exc)
            return ""
        for _dn, entry in found:
            for key, values in entry.items():
                if key.lower() == config.username_attr.lower() and values:
                    value = values[0]
                    return value.decode() if isinstance(value, bytes) else str(value)
        return ""
