"""Is this request the Bot Connector's? Checked as Microsoft documents it ("Authenticate requests from the Bot
Connector service to your bot"): `Authorization: Bearer <JWT>`, signed with one of the keys the Bot Connector
publishes (its OpenID metadata names the key set, `jwks_uri`, and the signing algorithms), issued by
https://api.botframework.com, for the audience of this bot's Microsoft App ID, within its validity (five minutes of
clock skew), with a key endorsed for the activity's `channelId` when the key lists endorsements, and with a
`serviceurl` claim equal to the activity's `serviceUrl` (where the answers go, with our access token).

The keys are kept a day per metadata address; a token signed with a key not in the kept set fetches them again, at
most every five minutes (Microsoft publishes new keys before it signs with them).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from django.conf import settings

from outcomedesk.core import clock
from outcomedesk.core.errors import ServiceError
from outcomedesk.intake.teams import client

log = logging.getLogger(__name__)
ISSUER = "https://api.botframework.com"
SIGNING = ("RS256", "RS384", "RS512")  # what the Bot Framework signs with; never "none" nor a shared secret
SKEW = 5 * 60
KEEP = timedelta(days=1)
RECHECK = timedelta(minutes=5)


class BadToken(ServiceError):
    """The request does not carry a valid token of the Bot Connector for this bot (401)."""

    status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message, field="Authorization")


class KeysUnavailable(ServiceError):
    """The Bot Connector's signing keys could not be read, and none are kept: nothing can be checked (503)."""

    status = 503


@dataclass(frozen=True)
class _KeySet:
    fetched_at: datetime
    algorithms: tuple[str, ...]
    keys: dict[str, tuple[Any, tuple[str, ...]]]  # kid -> (public key, the channels that endorse it)


_kept: dict[str, _KeySet] = {}
_lock = threading.Lock()


def verify(authorization: str | None, activity: dict[str, Any]) -> dict[str, Any]:
    """The token's claims, when `authorization` is the Bot Connector's valid bearer token for `activity`; else
    BadToken naming what is wrong. An activity without a string `serviceUrl` or `channelId` is left to the door's
    check of the payload (400), which requires both: so a request goes through only with both matching."""
    app_id = settings.OUTCOMEDESK_TEAMS_APP_ID
    if not app_id:
        raise BadToken("the Teams bot is not configured here (OUTCOMEDESK_TEAMS_APP_ID)")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        raise BadToken("Authorization: Bearer <the Bot Connector's token> is required")
    token = token.strip()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise BadToken("the bearer token is not a JWT") from None
    kid, algorithm = str(header.get("kid") or ""), str(header.get("alg") or "")
    keys = _key_set(settings.OUTCOMEDESK_TEAMS_OPENID_URL, kid)
    if algorithm not in keys.algorithms:
        raise BadToken(f"the token is signed with {algorithm or 'nothing'}, not {' or '.join(keys.algorithms)}")
    if kid not in keys.keys:
        raise BadToken("the token is not signed with any of the Bot Connector's keys (unknown kid)")
    key, endorsements = keys.keys[kid]
    channel = activity.get("channelId")
    if endorsements and isinstance(channel, str) and channel and channel not in endorsements:
        raise BadToken(f"the token's signing key is not endorsed for the channel {channel[:40]!r}")
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[algorithm], audience=app_id, issuer=ISSUER,
                                            leeway=SKEW, options={"require": ["exp", "iss", "aud"]})
    except jwt.InvalidSignatureError:
        raise BadToken("the token's signature does not verify") from None
    except jwt.ExpiredSignatureError:
        raise BadToken("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise BadToken("the token is not valid yet") from None
    except jwt.InvalidIssuerError:
        raise BadToken(f"the token is not issued by {ISSUER}") from None
    except jwt.InvalidAudienceError:
        raise BadToken("the token is for another bot (its audience is not this bot's Microsoft App ID)") from None
    except jwt.MissingRequiredClaimError as exc:
        raise BadToken(f"the token has no {exc.claim} claim") from None
    except jwt.InvalidTokenError as exc:
        raise BadToken(f"the token is not valid: {exc}") from None
    service_url = activity.get("serviceUrl")
    if isinstance(service_url, str) and service_url:
        # The Bot Connector writes it `serviceurl`; Microsoft's article spells it `serviceUrl`.
        claimed = claims.get("serviceurl", claims.get("serviceUrl"))
        if claimed != service_url:
            raise BadToken("the token's serviceurl claim does not match the activity's serviceUrl")
    return claims


def forget_keys() -> None:
    """Drop the kept signing keys (each test starts from none)."""
    with _lock:
        _kept.clear()


def _key_set(url: str, kid: str) -> _KeySet:
    now = clock.now()
    with _lock:
        current = _kept.get(url)
    due = current is None or now - current.fetched_at >= KEEP or (
        kid not in current.keys and now - current.fetched_at >= RECHECK)
    if not due:
        assert current is not None
        return current
    try:
        fresh = _fetch(url, now)
    except client.TeamsError as exc:
        if current is None:
            raise KeysUnavailable(f"the Bot Connector's signing keys cannot be read: {exc}") from None
        log.warning("Bot Connector keys not refreshed, the kept ones serve: %s", exc)
        return current
    with _lock:
        _kept[url] = fresh
    return fresh


def _fetch(url: str, now: datetime) -> _KeySet:
    metadata = client.get_json(url, "Bot Connector OpenID metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("jwks_uri"), str):
        raise client.TeamsError("Bot Connector OpenID metadata: no jwks_uri")
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(a for a in SIGNING if isinstance(offered, list) and a in offered) or ("RS256",)
    document = client.get_json(metadata["jwks_uri"], "Bot Connector signing keys")
    keys: dict[str, tuple[Any, tuple[str, ...]]] = {}
    for jwk in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(jwk, dict) or not jwk.get("kid"):
            continue
        try:
            public = jwt.PyJWK(jwk).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            log.warning("Bot Connector key %s skipped: %s", jwk.get("kid"), exc)
            continue
        endorsements = jwk.get("endorsements") or []
        keys[str(jwk["kid"])] = (public, tuple(str(e) for e in endorsements if isinstance(e, str)))
    if not keys:
        raise client.TeamsError("Bot Connector signing keys: none usable")
    return _KeySet(now, algorithms, keys)
