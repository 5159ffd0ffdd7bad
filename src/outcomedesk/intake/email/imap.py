"""Reading a desk's mailbox over IMAP (imapclient): every unread message is kept and processed, then marked read.

A message is marked read only after it is stored, so a crash between the two reads it again, and the stored row
(one per desk and Message-ID) makes the second reading a no-op. A server that cannot be reached or refuses the
login is tried again later, waiting longer after each failure in a row (up to `MAX_BACKOFF`); the mailbox's
health (last attempt, last success, the error, failures in a row) is what the admin, the API and the dashboard
show. The login is a password, or an OAuth 2.0 access token (XOAUTH2: `oauth.access_token`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from outcomedesk.core import clock
from outcomedesk.intake.email import oauth
from outcomedesk.intake.email.services import receive
from outcomedesk.intake.models import Mailbox, MailboxAuth, MailboxSecurity

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
BATCH = 50  # messages fetched per round trip


@dataclass
class Poll:
    """What one poll of a mailbox did."""

    mailbox: str
    read: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    error: str = ""


class MailboxError(Exception):
    """The mailbox could not be read: the server is down, refused the login, or the secret is missing."""


def poll(mailbox: Mailbox, *, now: datetime | None = None, limit: int | None = None) -> Poll:
    """Read `mailbox`'s unread messages (at most `limit`) and record its health; never raises for the mailbox's
    own failures (they are the health), only for the database's."""
    now = now or clock.now()
    result = Poll(str(mailbox))
    Mailbox.objects.filter(pk=mailbox.pk).update(last_attempt_at=now)
    try:
        with _connect(mailbox, now) as client:
            client.select_folder(mailbox.folder)
            uids = sorted(client.search(["UNSEEN"]))[:limit]
            for start in range(0, len(uids), BATCH):
                batch = uids[start:start + BATCH]
                for uid, data in client.fetch(batch, ["BODY.PEEK[]"]).items():
                    raw = data.get(b"BODY[]")
                    if raw is None:
                        continue
                    outcome = receive(bytes(raw), desk=mailbox.desk, mailbox=mailbox)
                    client.add_flags([uid], [b"\\Seen"])  # only now: the message is kept
                    status = "duplicate" if outcome.duplicate else outcome.message.status
                    result.outcomes[status] = result.outcomes.get(status, 0) + 1
                    result.read += 1
    except DatabaseError:
        raise  # nothing could be stored: not the mailbox's failure; the task is retried
    except (TimeoutError, MailboxError, oauth.TokenError, IMAPClientError, OSError, ssl.SSLError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:500]
        failures = mailbox.failures + 1
        wait = min(timedelta(seconds=settings.OUTCOMEDESK_MAIL_POLL_SECONDS) * 2 ** min(failures, 12), MAX_BACKOFF)
        Mailbox.objects.filter(pk=mailbox.pk).update(failures=failures, last_error=result.error,
                                                     next_poll_at=now + wait)
        log.warning("mailbox %s: %s (failure %d in a row; next try in %s)", mailbox, result.error, failures, wait)
        return result
    Mailbox.objects.filter(pk=mailbox.pk).update(
        failures=0, last_error="", last_success_at=now,
        next_poll_at=now + timedelta(seconds=settings.OUTCOMEDESK_MAIL_POLL_SECONDS))
    return result


def _connect(mailbox: Mailbox, now: datetime) -> Any:
    secret = os.environ.get(mailbox.secret_env, "")
    if not secret:
        raise MailboxError(f"the environment variable {mailbox.secret_env} (the mailbox's secret) is not set")
    # Before connecting: a token endpoint that refuses is the error, not a server that was never asked.
    token = oauth.access_token(mailbox, secret, now=now) if mailbox.auth == MailboxAuth.XOAUTH2 else ""
    context = ssl.create_default_context(cafile=settings.OUTCOMEDESK_MAIL_CA_FILE or None)
    timeout = settings.OUTCOMEDESK_MAIL_TIMEOUT
    tls = mailbox.security == MailboxSecurity.TLS
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=tls, ssl_context=context if tls else None,
                        timeout=timeout)
    try:
        if mailbox.security == MailboxSecurity.STARTTLS:
            client.starttls(context)
        if mailbox.auth == MailboxAuth.XOAUTH2:
            _oauth2_login(client, mailbox, secret, token)
        else:
            client.login(mailbox.username, secret)
    except BaseException:
        with contextlib.suppress(OSError):
            client.shutdown()
        raise
    return client


def _oauth2_login(client: Any, mailbox: Mailbox, secret: str, token: str) -> None:
    try:
        client.oauth2_login(mailbox.username, token)
    except LoginError as exc:
        oauth.forget(mailbox, secret)  # revoked or no longer granted: the next poll fetches a new one
        source = (f"the access token from {mailbox.oauth_token_url}" if mailbox.oauth_token_url
                  else f"the access token in {mailbox.secret_env} (expired?)")
        raise MailboxError(f"the IMAP server refused {source} for {mailbox.username}: {exc}") from None
