"""Inbound webhooks: another system (a monitoring tool, a form, a partner's desk) opens, comments on and resolves
tickets of a desk. Each request is signed: `X-Outcomedesk-Timestamp` (Unix seconds, within five minutes) and
`X-Outcomedesk-Signature: sha256=` and the hex HMAC-SHA256, keyed with the source's secret, of
`{timestamp}.{raw body}`. The source's integration account acts, through `tickets.services`; its tickets are
known to it by its own reference (`external_ref`), so a request sent twice opens one ticket.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from typing import Any

from django.db import transaction

from outcomedesk.accounts.models import User
from outcomedesk.core import clock
from outcomedesk.core.errors import AlreadyImported, InvalidInput, NotFound
from outcomedesk.core.models import Channel
from outcomedesk.core.parsing import as_int, is_digits
from outcomedesk.intake import configuration
from outcomedesk.intake.models import WebhookSource
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import State, Ticket

REPLAY_WINDOW = 5 * 60
ACTIONS = ("open", "comment", "resolve")


class BadSignature(Exception):
    """Not signed by the source (or replayed): the reason, for the 401."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(slug: str, timestamp: str | None, body: bytes, signature: str | None, now: float | None = None
           ) -> WebhookSource:
    """The active source `slug` whose secret signed `body`, or BadSignature."""
    source = WebhookSource.objects.select_related("desk", "account").filter(slug=slug, is_active=True).first()
    secret = os.environ.get(source.secret_env, "") if source is not None else ""
    if source is None or not secret:
        raise BadSignature(f"no webhook source {slug!r} takes requests here")
    if not timestamp or not signature:
        raise BadSignature("X-Outcomedesk-Timestamp and X-Outcomedesk-Signature are required")
    sent = as_int(timestamp) if is_digits(timestamp) else None
    if sent is None or abs((now if now is not None else time.time()) - sent) > REPLAY_WINDOW:
        raise BadSignature("the timestamp is more than five minutes from now: a replay, or a wrong clock")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise BadSignature("X-Outcomedesk-Signature does not match the body")
    return source


def receive(source: WebhookSource, payload: dict[str, Any]) -> dict[str, Any]:
    """Do what one verified request asks; returns {"ticket", "action", "duplicate"}."""
    action = payload.get("action")
    if action not in ACTIONS:
        raise InvalidInput({"action": f"must be one of {', '.join(ACTIONS)}, not {str(action)[:20]!r}"})
    reference = str(payload.get("external_ref") or "").strip()
    if not reference:
        raise InvalidInput({"external_ref": "is required: the ticket's id in your system"})
    external_ref = f"{source.slug}:{reference}"
    account = source.account
    WebhookSource.objects.filter(pk=source.pk).update(last_received_at=clock.now())
    if action == "open":
        requester = _requester(payload.get("requester"))
        try:
            opened = tickets.open_ticket(
                account, desk=source.desk, title=str(payload.get("title") or ""),
                description=str(payload.get("description") or ""), requester=requester,
                urgency=payload.get("urgency"), impact=payload.get("impact"), external_ref=external_ref,
                channel=Channel.API, door=Channel.API,
            )
        except AlreadyImported as exc:
            return {"ticket": exc.number, "action": action, "duplicate": True}
        return {"ticket": opened.number, "action": action, "duplicate": False}
    found = Ticket.objects.filter(external_ref=external_ref, desk=source.desk).first()
    if found is None:
        raise NotFound(f"no ticket of {source.name} with external_ref {reference!r}")
    ticket: Ticket = found
    text = str(payload.get("comment") or "").strip()
    with transaction.atomic():
        if action == "comment":
            tickets.add_comment(account, ticket, text, public=bool(payload.get("public", True)),
                                channel=Channel.API)
        elif ticket.state != State.RESOLVED:
            tickets.change_state(account, ticket, State.RESOLVED, resolution_notes=text or f"Resolved in "
                                 f"{source.name}.", resolution_code="solved", channel=Channel.API)
    return {"ticket": ticket.number, "action": action, "duplicate": False}


def _requester(value: Any) -> User | None:
    if value in (None, ""):
        return None
    found = User.objects.filter(email__iexact=str(value).strip(), is_active=True).first()
    if found is None:
        raise InvalidInput({"requester": f"no active person with the address {str(value)[:100]!r}"})
    return found


SOURCE_FIELDS = ("name", "slug", "desk", "account", "secret_env", "is_active")


def save_webhook_source(actor: Any, values: dict[str, Any], *, source: WebhookSource | None = None
                        ) -> WebhookSource:
    """Create or change a webhook source (its desk's managers); its account must be an agent of the desk."""
    row = source or WebhookSource()
    fields, desk = configuration.merged(actor, values, SOURCE_FIELDS, row, saved=source is not None,
                                        what="webhook source")
    errors: dict[str, str] = {}
    account = configuration.integration_account(errors, fields["account"], desk)
    name, slug = str(fields["name"] or "").strip(), str(fields["slug"] or "").strip()
    if not name:
        errors["name"] = "is required"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,49}", slug):
        errors["slug"] = "lower-case letters, digits and dashes"
    elif WebhookSource.objects.filter(slug=slug).exclude(pk=row.pk).exists():
        errors["slug"] = f"{slug!r} is another source's"
    secret_env = configuration.check_secret_env(errors, fields["secret_env"])
    if errors or account is None:
        raise InvalidInput(errors)
    row.name, row.slug, row.desk, row.account, row.secret_env = name, slug, desk, account, secret_env
    row.is_active = bool(fields["is_active"])
    row.save()
    return row
