"""The access token a mailbox logs in with over OAuth 2.0 (XOAUTH2).

With a token endpoint (`oauth_token_url`), the token is fetched from it (RFC 6749, the client authenticated by its
secret in the request body, as Microsoft and Google take it): with the client credentials grant (Microsoft 365: an
app granted the mailbox) or, when the mailbox names a refresh token's variable, the refresh token grant (Google
Workspace: a person's consent). It is kept in this process until shortly before it expires, and dropped at once
when the IMAP server refuses it. Without one, the mailbox's variable holds the access token itself (another tool
keeps it fresh). Secrets come from the environment and never appear in an error.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import ssl
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from outcomedesk.intake.models import Mailbox

EARLY = timedelta(minutes=5)  # a kept token is fetched again this long before it expires
_kept: dict[str, tuple[str, datetime]] = {}  # cache key -> (access token, fetch again after)
_lock = threading.Lock()


class TokenError(Exception):
    """No access token could be had: the token endpoint is unreachable, refused the client, or answered nonsense."""


def access_token(mailbox: Mailbox, secret: str, *, now: datetime) -> str:
    """The access token to log in to `mailbox` with; `secret` is the value of its `secret_env`."""
    if not mailbox.oauth_token_url:
        return secret
    refresh = _refresh_token(mailbox)
    key = _key(mailbox, secret, refresh)
    with _lock:
        kept = _kept.get(key)
    if kept is not None and now < kept[1]:
        return kept[0]
    token, lifetime = _fetch(mailbox, secret, refresh)
    if lifetime > EARLY:
        with _lock:
            _kept[key] = (token, now + lifetime - EARLY)
    return token


def forget(mailbox: Mailbox, secret: str) -> None:
    """Drop the kept token of `mailbox` (the IMAP server refused it: revoked, or the grant changed)."""
    if mailbox.oauth_token_url:
        refresh = os.environ.get(mailbox.oauth_refresh_token_env, "") if mailbox.oauth_refresh_token_env else ""
        with _lock:
            _kept.pop(_key(mailbox, secret, refresh), None)


def _refresh_token(mailbox: Mailbox) -> str:
    if not mailbox.oauth_refresh_token_env:
        return ""
    value = os.environ.get(mailbox.oauth_refresh_token_env, "")
    if not value:
        raise TokenError(f"the environment variable {mailbox.oauth_refresh_token_env} (the mailbox's refresh token) "
                         "is not set")
    return value


def _key(mailbox: Mailbox, secret: str, refresh: str) -> str:
    """One token per endpoint, client, scope and secrets: a changed secret fetches a new one."""
    parts = (mailbox.oauth_token_url, mailbox.oauth_client_id, mailbox.oauth_scope, secret, refresh)
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _fetch(mailbox: Mailbox, secret: str, refresh: str) -> tuple[str, timedelta]:
    form = {"client_id": mailbox.oauth_client_id, "client_secret": secret}
    if refresh:
        form |= {"grant_type": "refresh_token", "refresh_token": refresh}
    else:
        form["grant_type"] = "client_credentials"
    if mailbox.oauth_scope:
        form["scope"] = mailbox.oauth_scope
    request = urllib.request.Request(  # noqa: S310 (https://, or http:// to this machine: save_mailbox checks)
        mailbox.oauth_token_url, data=urlencode(form).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    # The system's certificate authorities, and the mail servers' private one when there is one.
    context = ssl.create_default_context()
    if settings.OUTCOMEDESK_MAIL_CA_FILE:
        context.load_verify_locations(cafile=settings.OUTCOMEDESK_MAIL_CA_FILE)
    where = f"the token endpoint {mailbox.oauth_token_url}"
    try:
        with urllib.request.urlopen(request, timeout=settings.OUTCOMEDESK_MAIL_TIMEOUT,  # noqa: S310
                                    context=context) as response:
            answer = _json(response.read(65536))
    except urllib.error.HTTPError as exc:
        refusal = _json(exc.read(65536))
        error = str(refusal.get("error") or f"HTTP {exc.code}")[:100]
        detail = " ".join(str(refusal.get("error_description") or "").split())[:300]
        raise TokenError(f"{where} refused client {mailbox.oauth_client_id!r}: {error}"
                         + (f" ({detail})" if detail else "")) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else f"{type(exc).__name__}: {exc}"
        raise TokenError(f"{where} could not be reached: {reason}") from None
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenError(f"{where} answered without an access token")
    try:
        lifetime = timedelta(seconds=int(answer.get("expires_in") or 0))  # some send it as a string
    except (TypeError, ValueError):
        lifetime = timedelta(0)
    return token, lifetime


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
