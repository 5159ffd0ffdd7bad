"""The two calls of Slack's Web API that intake makes, over HTTPS with the bot token: `users.info` (a person's
e-mail address, to find their account) and `chat.postMessage` (a reply in a thread). The base address is
`OUTCOMEDESK_SLACK_API_URL` (Slack's own by default; the tests run a local server speaking the same API)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from django.conf import settings


class SlackError(Exception):
    """Slack answered `ok: false`, or could not be reached."""


def call(method: str, **arguments: Any) -> dict[str, Any]:
    url = f"{settings.OUTCOMEDESK_SLACK_API_URL.rstrip('/')}/{method}"
    request = urllib.request.Request(  # noqa: S310 - the configured Slack API address
        url, data=json.dumps(arguments).encode(), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Authorization": f"Bearer {settings.OUTCOMEDESK_SLACK_BOT_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=settings.OUTCOMEDESK_SLACK_TIMEOUT) as answer:  # noqa: S310
            body = json.loads(answer.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise SlackError(f"{method}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(body, dict) or not body.get("ok"):
        raise SlackError(f"{method}: {body.get('error') if isinstance(body, dict) else body!r}")
    return body


def email_of(user_id: str) -> tuple[str, str]:
    """(e-mail address, real name) of a Slack user; the app needs the users:read.email scope."""
    profile = call("users.info", user=user_id).get("user", {}).get("profile", {})
    return str(profile.get("email") or ""), str(profile.get("real_name") or "")


def post(channel: str, thread_ts: str, text: str) -> str:
    """Post `text` in a thread; returns the new message's ts."""
    return str(call("chat.postMessage", channel=channel, thread_ts=thread_ts, text=text).get("ts", ""))
