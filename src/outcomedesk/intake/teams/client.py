"""The calls Outcomedesk makes to Microsoft for its Teams bot, over HTTPS: the OpenID metadata and signing keys of
the Bot Connector (`get_json`, for `botauth`), an access token from the token endpoint (client credentials of the
bot's Microsoft App ID), and the Bot Connector's REST API: a reply to an activity, a message to a conversation.

Tokens are cached until five minutes before they expire, per token endpoint and app; one the Bot Connector refuses
(401) is forgotten, so the task's retry asks for a new one.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from outcomedesk.core import clock

SCOPE = "https://api.botframework.com/.default"
EARLY = timedelta(minutes=5)  # a cached token is renewed this long before it expires


class TeamsError(Exception):
    """Microsoft could not be reached, or refused (`status`: its HTTP status): the task that called is retried."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


_tokens: dict[tuple[str, str], _Token] = {}
_lock = threading.Lock()


def _send(request: urllib.request.Request, what: str) -> Any:
    try:
        with urllib.request.urlopen(request, timeout=settings.OUTCOMEDESK_TEAMS_TIMEOUT) as answer:  # noqa: S310
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise TeamsError(f"{what}: HTTP {exc.code} {detail}".strip(), exc.code) from exc
    except OSError as exc:
        raise TeamsError(f"{what}: {type(exc).__name__}: {exc}") from exc
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        raise TeamsError(f"{what}: the answer is not JSON") from None


def get_json(url: str, what: str) -> Any:
    if not url.startswith(("https://", "http://")):
        raise TeamsError(f"{what}: {url!r} is not an http(s) address")
    return _send(urllib.request.Request(url, headers={"Accept": "application/json"}), what)  # noqa: S310


def access_token() -> str:
    """A token for the Bot Connector, from the cache while it has five minutes left."""
    app_id, url = settings.OUTCOMEDESK_TEAMS_APP_ID, settings.OUTCOMEDESK_TEAMS_TOKEN_URL
    if not app_id or not settings.OUTCOMEDESK_TEAMS_APP_PASSWORD:
        raise TeamsError("the Teams bot is not configured (OUTCOMEDESK_TEAMS_APP_ID, OUTCOMEDESK_TEAMS_APP_PASSWORD)")
    now = clock.now()
    with _lock:
        cached = _tokens.get((url, app_id))
        if cached is not None and cached.expires_at - EARLY > now:
            return cached.value
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": app_id,
                                   "client_secret": settings.OUTCOMEDESK_TEAMS_APP_PASSWORD, "scope": SCOPE})
    body = _send(urllib.request.Request(  # noqa: S310 - the configured token endpoint
        url, data=form.encode(), method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        "token endpoint")
    value = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise TeamsError("token endpoint: the answer holds no access_token")
    try:
        lifetime = int(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600
    with _lock:
        _tokens[(url, app_id)] = _Token(value, now + timedelta(seconds=lifetime))
    return value


def forget_tokens() -> None:
    """Drop the cached access tokens (the app's secret changed; each test starts from none)."""
    with _lock:
        _tokens.clear()


def _connector(service_url: str, path: str, activity: dict[str, Any], what: str) -> str:
    token = access_token()
    url = f"{service_url.rstrip('/')}/v3/conversations/{path}"
    request = urllib.request.Request(  # noqa: S310 - the serviceUrl the Bot Connector's signed token vouched for
        url, data=json.dumps(activity).encode(), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {token}"})
    try:
        body = _send(request, what)
    except TeamsError as exc:
        if exc.status == 401:
            with _lock:  # refused: the retry asks for a new token
                _tokens.pop((settings.OUTCOMEDESK_TEAMS_TOKEN_URL, settings.OUTCOMEDESK_TEAMS_APP_ID), None)
        raise
    return str(body.get("id", "")) if isinstance(body, dict) else ""


def _quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def reply(service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]) -> str:
    """Answer one activity (`POST /v3/conversations/{conversationId}/activities/{activityId}`); the new id."""
    return _connector(service_url, f"{_quoted(conversation_id)}/activities/{_quoted(activity_id)}",
                      {**activity, "replyToId": activity_id}, "Bot Connector reply")


def send(service_url: str, conversation_id: str, activity: dict[str, Any]) -> str:
    """Post to a conversation (`POST /v3/conversations/{conversationId}/activities`); in Teams a conversation id
    ending `;messageid=<first message>` is that message's thread. Returns the new activity's id."""
    return _connector(service_url, f"{_quoted(conversation_id)}/activities", activity, "Bot Connector message")
