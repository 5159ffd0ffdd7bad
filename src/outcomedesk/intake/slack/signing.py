"""Slack's request signing (https://api.slack.com/authentication/verifying-requests-from-slack): the
`X-Slack-Signature` is `v0=` and the hex HMAC-SHA256, keyed with the app's signing secret, of
`v0:{X-Slack-Request-Timestamp}:{raw body}`; a timestamp more than five minutes from now is a replay."""

from __future__ import annotations

import hashlib
import hmac
import time

REPLAY_WINDOW = 5 * 60


class BadSignature(Exception):
    """The request is not Slack's (or is an old one replayed): the reason, for the 401."""


def verify(secret: str, timestamp: str | None, body: bytes, signature: str | None, now: float | None = None) -> None:
    if not secret:
        raise BadSignature("Slack is not configured here (OUTCOMEDESK_SLACK_SIGNING_SECRET)")
    if not timestamp or not signature:
        raise BadSignature("X-Slack-Request-Timestamp and X-Slack-Signature are required")
    try:
        sent = int(timestamp)
    except ValueError:
        raise BadSignature("X-Slack-Request-Timestamp is not a number") from None
    if abs((now if now is not None else time.time()) - sent) > REPLAY_WINDOW:
        raise BadSignature("the request is more than five minutes old (or from the future): a replay")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise BadSignature("X-Slack-Signature does not match the body")
