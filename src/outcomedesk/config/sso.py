"""Single sign-on providers from the environment, as django-allauth's SOCIALACCOUNT_PROVIDERS.

OpenID Connect: one provider from OUTCOMEDESK_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET (and optional _ID, _NAME,
_SCOPES, _GROUPS_CLAIM), or several from OUTCOMEDESK_OIDC_PROVIDERS, a JSON list of objects with the same keys in
lower case (`{"id": "corp", "name": "Corp", "issuer": "https://...", "client_id": "...", "client_secret": "..."}`).
Every OIDC login uses the authorization code flow with PKCE.

SAML 2.0: one identity provider from OUTCOMEDESK_SAML_IDP_METADATA_URL (or _IDP_ENTITY_ID, _IDP_SSO_URL,
_IDP_X509CERT) and optional _ID, _NAME, _SP_ENTITY_ID, _ATTRIBUTES, _GROUPS_ATTRIBUTE, or several from
OUTCOMEDESK_SAML_PROVIDERS (a JSON list with the same keys in lower case).

A provider that is not configured has no button on the login page and no URL that answers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from outcomedesk.config.env import ConfigError, env_int, env_str

OIDC_KEYS = {"id", "name", "issuer", "client_id", "client_secret", "scopes", "groups_claim", "token_auth_method"}
SAML_KEYS = {"id", "name", "idp_metadata_url", "idp_entity_id", "idp_sso_url", "idp_slo_url", "idp_x509cert",
             "sp_entity_id", "attributes", "groups_attribute", "want_assertion_signed", "allow_idp_initiated"}

# SAML attribute names as identity providers commonly send them: the LDAP friendly name, the OID (urn:oid) and
# the claim URIs of Active Directory Federation Services and Entra ID.
DEFAULT_SAML_ATTRIBUTES: dict[str, list[str]] = {
    "uid": ["uid", "urn:oid:0.9.2342.19200300.100.1.1", "sAMAccountName",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"],
    "username": ["uid", "urn:oid:0.9.2342.19200300.100.1.1", "sAMAccountName",
                 "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"],
    "email": ["mail", "email", "urn:oid:0.9.2342.19200300.100.1.3",
              "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
    "first_name": ["givenName", "urn:oid:2.5.4.42", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"],
    "last_name": ["sn", "urn:oid:2.5.4.4", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"],
}
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _json_list(name: str, allowed: set[str]) -> list[dict[str, Any]]:
    raw = env_str(name).strip()
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(f"{name} must be a JSON list of objects")
    for index, item in enumerate(value):
        unknown = set(item) - allowed
        if unknown:
            raise ConfigError(f"{name}[{index}] has unknown keys {sorted(unknown)}; use {sorted(allowed)}")
    return value


def _single(prefix: str, keys: set[str]) -> dict[str, Any]:
    """The one provider of the OUTCOMEDESK_<PREFIX>_* variables (empty values left out)."""
    found = {key: os.environ[f"{prefix}_{key.upper()}"] for key in keys if os.environ.get(f"{prefix}_{key.upper()}")}
    return found


def _words(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in re.split(r"[\s,]+", str(value)) if part]


def _providers(kind: str, keys: set[str], *, default_id: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(source, id, entry) of each provider of `kind` (OIDC or SAML): the JSON list OUTCOMEDESK_<KIND>_PROVIDERS,
    else the one provider of the OUTCOMEDESK_<KIND>_* variables; ids checked as slugs and unique."""
    source = f"OUTCOMEDESK_{kind}_PROVIDERS"
    entries = _json_list(source, keys)
    if not entries and (single := _single(f"OUTCOMEDESK_{kind}", keys)):
        entries, source = [single], f"OUTCOMEDESK_{kind}_*"
    seen: set[str] = set()
    for entry in entries:
        provider_id = str(entry.get("id") or default_id)
        if not SLUG.fullmatch(provider_id):
            raise ConfigError(f"{source}: id {provider_id!r} must be 1-40 lower-case letters, digits and dashes")
        if provider_id in seen:
            raise ConfigError(f"{source}: two providers have the id {provider_id!r}")
        seen.add(provider_id)
        yield source, provider_id, entry


def oidc_apps() -> list[dict[str, Any]]:
    """allauth `openid_connect` apps, each with PKCE on."""
    apps: list[dict[str, Any]] = []
    for source, provider_id, entry in _providers("OIDC", OIDC_KEYS, default_id="oidc"):
        for key in ("issuer", "client_id"):
            if not entry.get(key):
                raise ConfigError(f"{source}: {key} is required for an OpenID Connect provider")
        if not str(entry["issuer"]).startswith(("https://", "http://")):
            raise ConfigError(f"{source}: issuer {entry['issuer']!r} must be an http(s) URL")
        settings: dict[str, Any] = {
            "server_url": str(entry["issuer"]).rstrip("/"),
            "oauth_pkce_enabled": True,
            "scope": _words(entry.get("scopes") or "openid profile email"),
            "groups_claim": str(entry.get("groups_claim") or "groups"),
        }
        if entry.get("token_auth_method"):
            settings["token_auth_method"] = str(entry["token_auth_method"])
        apps.append({
            "provider_id": provider_id,
            "name": str(entry.get("name") or "single sign-on"),
            "client_id": str(entry["client_id"]),
            "secret": str(entry.get("client_secret") or ""),
            "settings": settings,
        })
    return apps


def _pem(source: str, value: str) -> str:
    """A certificate given inline (PEM or bare base64) or as the path of a PEM file."""
    value = value.strip()
    if value and not value.startswith("-----") and "/" in value[:200] and Path(value).is_file():
        value = Path(value).read_text().strip()
    body = re.sub(r"-----[A-Z ]+-----|\s", "", value)
    if not body or not re.fullmatch(r"[A-Za-z0-9+/=]+", body):
        raise ConfigError(f"{source}: idp_x509cert is neither a PEM certificate nor the path of one")
    return body


def saml_apps() -> list[dict[str, Any]]:
    """allauth `saml` apps; the id is the organisation slug in the SP's URLs (/accounts/saml/<id>/acs/)."""
    apps: list[dict[str, Any]] = []
    for source, provider_id, entry in _providers("SAML", SAML_KEYS, default_id="saml"):
        idp: dict[str, Any]
        if entry.get("idp_metadata_url"):
            if not entry.get("idp_entity_id"):
                raise ConfigError(f"{source}: idp_entity_id is required with idp_metadata_url")
            idp = {"metadata_url": str(entry["idp_metadata_url"]), "entity_id": str(entry["idp_entity_id"]),
                   "metadata_request_timeout": env_int("OUTCOMEDESK_SSO_TIMEOUT", 10)}
        else:
            missing = [k for k in ("idp_entity_id", "idp_sso_url", "idp_x509cert") if not entry.get(k)]
            if missing:
                raise ConfigError(f"{source}: set idp_metadata_url, or {', '.join(missing)}")
            idp = {"entity_id": str(entry["idp_entity_id"]), "sso_url": str(entry["idp_sso_url"]),
                   "x509cert": _pem(source, str(entry["idp_x509cert"]))}
            if entry.get("idp_slo_url"):
                idp["slo_url"] = str(entry["idp_slo_url"])
        attributes = entry.get("attributes") or DEFAULT_SAML_ATTRIBUTES
        if isinstance(attributes, str):
            try:
                attributes = json.loads(attributes)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}: attributes is not valid JSON: {exc}") from None
        if not isinstance(attributes, dict):
            raise ConfigError(f"{source}: attributes must map uid, username, email, first_name, last_name to names")
        want_signed = str(entry.get("want_assertion_signed", "true")).lower() not in {"false", "0", "no", "off"}
        idp_initiated = str(entry.get("allow_idp_initiated", "false")).lower() in {"true", "1", "yes", "on"}
        app_settings: dict[str, Any] = {
            "attribute_mapping": attributes,
            "idp": idp,
            # Intranet host names of one label (https://servicedesk/) are valid places for the service provider.
            "advanced": {"want_assertion_signed": want_signed, "reject_idp_initiated_sso": not idp_initiated,
                         "strict": True, "allow_single_label_domains": True},
            "groups_attribute": str(entry.get("groups_attribute") or "groups"),
        }
        if entry.get("sp_entity_id"):
            app_settings["sp"] = {"entity_id": str(entry["sp_entity_id"])}
        apps.append({"client_id": provider_id, "name": str(entry.get("name") or "SAML single sign-on"),
                     "settings": app_settings})
    return apps


def sso_providers() -> dict[str, Any]:
    """SOCIALACCOUNT_PROVIDERS with only the providers the environment configures."""
    providers: dict[str, Any] = {}
    oidc = oidc_apps()
    if oidc:
        providers["openid_connect"] = {"OAUTH_PKCE_ENABLED": True, "APPS": oidc}
    saml = saml_apps()
    if saml:
        providers["saml"] = {"APPS": saml}
    return providers
