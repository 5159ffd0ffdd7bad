"""Reading intake's state: the health of the mailboxes a person may see (the API and the service manager's
dashboard show the same rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from outcomedesk.accounts import policy
from outcomedesk.core import clock
from outcomedesk.intake.models import InboundStatus, Mailbox


@dataclass(frozen=True)
class MailboxHealth:
    mailbox: Mailbox
    lag_seconds: int | None  # since the last successful poll; None: never read
    quarantined: int

    @property
    def healthy(self) -> bool:
        """Read lately (within three poll intervals) and not failing."""
        late = self.lag_seconds is None or self.lag_seconds > 3 * settings.OUTCOMEDESK_MAIL_POLL_SECONDS
        return self.mailbox.failures == 0 and not (self.mailbox.is_active and late)


def mailbox_health(actor: Any, *, desk: int | None = None, now: datetime | None = None
                   ) -> list[MailboxHealth]:
    """The mailboxes `actor` may see (of `desk` when given), with their lag and their quarantine: one query."""
    now = now or clock.now()
    rows = policy.restrict(Mailbox.objects.select_related("desk"), actor, policy.VIEW)
    if desk is not None:
        rows = rows.filter(desk_id=desk)
    rows = rows.annotate(waiting=Count("messages", filter=Q(messages__status=InboundStatus.QUARANTINED)))
    return [MailboxHealth(m, int((now - m.last_success_at).total_seconds()) if m.last_success_at else None,
                          m.waiting) for m in rows]
