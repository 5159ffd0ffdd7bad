"""Every change of service-level data goes through these functions: calendars, policies, escalation rules, and
the targets of tickets (refreshed on each ticket change, swept for escalations, recomputed, repaired).

Callers import from here (`from outcomedesk.sla import services`); the functions live in:
- `configuration`: business calendars (and `calendar_of`, their parsed and cached form) and policies;
- `targets`: matching policies to a ticket (`PolicyBook`) and refreshing and explaining one ticket's targets;
- `escalation`: escalation rules, the sweep that fires them, and the delivery of their notifications;
- `recompute`: recomputing running targets in bulk and repairing tickets by replaying their history.
"""

from outcomedesk.sla.services.configuration import (
    CLOCK_CHOICES,
    POLICY_FIELDS,
    UTC_24X7,
    calendar_of,
    save_calendar,
    save_policy,
)
from outcomedesk.sla.services.escalation import (
    CLAIM_LEASE,
    SweepResult,
    deliver_all,
    deliver_escalations,
    save_escalation_rule,
    sweep,
    worker_name,
)
from outcomedesk.sla.services.recompute import (
    recompute_active,
    recompute_chunks,
    repair,
    schedule_recompute,
    schedule_repair,
    tickets_of_policy,
)
from outcomedesk.sla.services.targets import (
    STORED_FIELDS,
    PolicyBook,
    StoredTarget,
    deferred,
    explain_target,
    measure_from_row,
    on_ticket_changed,
    refresh_ticket,
    timeline,
)

__all__ = [
    "CLAIM_LEASE",
    "CLOCK_CHOICES",
    "POLICY_FIELDS",
    "STORED_FIELDS",
    "UTC_24X7",
    "PolicyBook",
    "StoredTarget",
    "SweepResult",
    "calendar_of",
    "deferred",
    "deliver_all",
    "deliver_escalations",
    "explain_target",
    "measure_from_row",
    "on_ticket_changed",
    "recompute_active",
    "recompute_chunks",
    "refresh_ticket",
    "repair",
    "save_calendar",
    "save_escalation_rule",
    "save_policy",
    "schedule_recompute",
    "schedule_repair",
    "sweep",
    "tickets_of_policy",
    "timeline",
    "worker_name",
]
