"""Recording audit events; called by service functions inside their transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outcomedesk.core.models import AuditEvent


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set)):
        return ", ".join(sorted(str(v) for v in value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass
class AuditBatch:
    """Collects the events of one service call and writes them in one query."""

    object_type: str
    object_id: int
    actor_id: int | None
    channel: str
    at: datetime
    events: list[AuditEvent] = field(default_factory=list)

    def add(self, action: str, field_name: str = "", old: Any = None, new: Any = None) -> None:
        self.events.append(
            AuditEvent(
                object_type=self.object_type,
                object_id=self.object_id,
                at=self.at,
                actor_id=self.actor_id,
                channel=self.channel,
                action=action,
                field=field_name,
                old_value=_as_text(old),
                new_value=_as_text(new),
            )
        )

    def save(self) -> list[AuditEvent]:
        if self.events:
            AuditEvent.objects.bulk_create(self.events)
        saved, self.events = self.events, []
        return saved


def events_for(object_type: str, object_id: int) -> Any:
    return AuditEvent.objects.filter(object_type=object_type, object_id=object_id).select_related("actor")
