"""Service levels: business calendars, policies with their targets, escalation rules, and each ticket's targets."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from outcomedesk.core.config_cache import ConfigQuerySet
from outcomedesk.sla import engine
from outcomedesk.sla.calendar import Calendar, calendar_from_json


class BusinessCalendar(models.Model):
    """When a service level's clock runs: its JSON form is what `outcomedesk sla deadline` reads."""

    name = models.CharField(max_length=100, unique=True)
    definition = models.JSONField(help_text='{"timezone": ..., "hours": {...} or "24x7", "holidays": {...}}')
    updated_at = models.DateTimeField()

    objects = ConfigQuerySet["BusinessCalendar"].as_manager()  # writes mark the cached policy book changed

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def calendar(self) -> Calendar:
        return calendar_from_json(self.definition)


class PolicyKind(models.TextChoices):
    SLA = "sla", "SLA (with the requester)"
    OLA = "ola", "OLA (with an assignment group)"
    UC = "uc", "Underpinning contract (with a vendor)"


KIND_METRICS = {
    PolicyKind.SLA: (engine.RESPONSE, engine.RESOLUTION, engine.NEXT_UPDATE),
    PolicyKind.OLA: (engine.GROUP_HOLD,),
    PolicyKind.UC: (engine.VENDOR_PENDING,),
}


class Metric(models.TextChoices):
    RESPONSE = engine.RESPONSE, "First response"
    RESOLUTION = engine.RESOLUTION, "Resolution"
    NEXT_UPDATE = engine.NEXT_UPDATE, "Next update"
    GROUP_HOLD = engine.GROUP_HOLD, "Group hold (OLA)"
    VENDOR_PENDING = engine.VENDOR_PENDING, "Vendor pending (UC)"


class TargetState(models.TextChoices):
    RUNNING = engine.RUNNING, "Running"
    PAUSED = engine.PAUSED, "Paused"
    AT_RISK = engine.AT_RISK, "At risk"
    BREACHED = engine.BREACHED, "Breached"
    MET = engine.MET, "Met"
    CANCELLED = engine.CANCELLED_TARGET, "Cancelled"


class ClockStart(models.TextChoices):
    OPENED = "opened", "When the ticket is opened"
    ASSIGNED = "assigned", "When the ticket first leaves New (assigned or taken)"


class ResponseStop(models.TextChoices):
    REPLY = "reply", "At the first public reply of an agent"
    ASSIGNED = "assigned", "At the first reply, or when an agent takes the ticket"


class ResolutionStop(models.TextChoices):
    RESOLVED = "resolved", "When the ticket is resolved (reopening resumes it)"
    CLOSED = "closed", "When the ticket is closed"


class SlaPolicy(models.Model):
    """Which tickets a set of targets applies to. The first active policy of a kind, by `order`, that matches
    the ticket wins; an empty condition matches everything."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=3, choices=PolicyKind.choices, default=PolicyKind.SLA)
    order = models.PositiveIntegerField(default=100, help_text="Lower is tried first")
    is_active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    # conditions
    desk = models.ForeignKey("accounts.Desk", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(
        "cmdb.BusinessService", null=True, blank=True, on_delete=models.PROTECT, related_name="sla_policies"
    )
    ticket_type = models.CharField(max_length=12, blank=True)
    priorities = models.JSONField(default=list, blank=True, help_text="Priorities matched, e.g. [1, 2]; [] is all")
    vip = models.BooleanField(null=True, blank=True, help_text="Only VIP requesters (yes), only others (no), or all")
    channel = models.CharField(max_length=20, blank=True)
    group = models.ForeignKey(
        "accounts.AssignmentGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="OLA: the group whose holding time is measured (empty: every group)",
    )
    vendor = models.CharField(max_length=120, blank=True, help_text="UC: the vendor the contract is with")
    # how the clock runs
    calendar = models.ForeignKey(
        BusinessCalendar, null=True, blank=True, on_delete=models.PROTECT, related_name="policies",
        help_text="Empty: 24x7 in UTC",
    )
    pause_reasons = models.JSONField(
        default=list, blank=True, help_text='Pending reasons that pause the clock, e.g. ["requester", "vendor"]'
    )
    at_risk_percent = models.PositiveSmallIntegerField(default=75)
    starts_on = models.CharField(max_length=10, choices=ClockStart.choices, default=ClockStart.OPENED,
                                 help_text="SLA: when the response and resolution clocks start")
    response_stops_on = models.CharField(max_length=10, choices=ResponseStop.choices, default=ResponseStop.REPLY)
    resolution_stops_on = models.CharField(max_length=10, choices=ResolutionStop.choices,
                                           default=ResolutionStop.RESOLVED)
    updated_at = models.DateTimeField()

    objects = ConfigQuerySet["SlaPolicy"].as_manager()  # writes mark the cached policy book changed

    class Meta:
        ordering = ["kind", "order", "name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class PolicyTarget(models.Model):
    """How long a metric may take under a policy, for one priority (or for all, when priority is empty)."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    minutes = models.PositiveIntegerField(help_text="Business minutes in the policy's calendar")

    objects = ConfigQuerySet["PolicyTarget"].as_manager()  # writes mark the cached policy book changed

    class Meta:
        ordering = ["policy", "metric", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "metric", "priority"], name="one_target_per_priority"),
            models.UniqueConstraint(
                fields=["policy", "metric"], condition=Q(priority__isnull=True), name="one_default_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy}: {self.metric} P{self.priority or '*'} {self.minutes} min"


class EscalationAction(models.TextChoices):
    NOTIFY_ASSIGNEE = "notify_assignee", "Notify the assignee"
    NOTIFY_GROUP = "notify_group", "Notify the assignment group"
    NOTIFY_MANAGERS = "notify_managers", "Notify the desk managers"
    RAISE_PRIORITY = "raise_priority", "Raise the priority by one"
    REASSIGN = "reassign", "Reassign to a group"


class EscalationRule(models.Model):
    """What happens when a share of a target has elapsed (75 %: tell the assignee; 100 %: tell the manager)."""

    name = models.CharField(max_length=120)
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.CASCADE, related_name="escalations",
        help_text="Empty: every policy",
    )
    metric = models.CharField(max_length=20, choices=Metric.choices, blank=True, help_text="Empty: every metric")
    at_percent = models.PositiveSmallIntegerField(help_text="Share of the target elapsed, e.g. 75, 100, 150")
    action = models.CharField(max_length=20, choices=EscalationAction.choices)
    reassign_to = models.ForeignKey(
        "accounts.AssignmentGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    business_hours_only = models.BooleanField(
        default=False, help_text="Hold notifications until the policy's calendar is working"
    )
    is_active = models.BooleanField(default=True)

    objects = ConfigQuerySet["EscalationRule"].as_manager()  # writes mark the cached policy book changed

    class Meta:
        ordering = ["at_percent", "name"]

    def __str__(self) -> str:
        return f"{self.name} at {self.at_percent} %"


class TicketTarget(models.Model):
    """One target of one ticket (its response, its resolution, the nth hold by a group...), as last computed.

    Deadlines are stored, and `next_check_at` is when the sweep must look again (at risk, breach, or the next
    escalation), so "what breaches in the next hour" and the sweep are each one indexed query."""

    # Few indexes on purpose: a recompute rewrites every running row, and each index is written again. The
    # unique (ticket, metric, cycle) serves lookups by ticket, `target_policy` those by policy.
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="sla_targets",
                               db_index=False)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    cycle = models.PositiveIntegerField(default=0)
    policy = models.ForeignKey(SlaPolicy, null=True, on_delete=models.SET_NULL, related_name="ticket_targets",
                               db_index=False)
    group = models.ForeignKey(
        "accounts.AssignmentGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    minutes = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=TargetState.choices)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True, help_text="Not stopped or cancelled yet")
    deadline = models.DateTimeField(null=True, blank=True, help_text="Empty while paused short of the target")
    at_risk_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    paused_since = models.DateTimeField(null=True, blank=True)
    pauses = models.JSONField(default=list, blank=True, help_text="[[begin, end, why], ...] in ISO 8601")
    elapsed_seconds = models.BigIntegerField(default=0, help_text="Business time counted, as of computed_at")
    next_check_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["ticket", "metric", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric", "cycle"], name="one_target_per_cycle"),
        ]
        indexes = [
            # Not partial indexes: SQLite does not use one when the condition's value is a bound parameter.
            # next_check_at is empty once a target stops, so the sweep's range scan only meets active ones.
            models.Index(fields=["next_check_at"], name="target_sweep"),
            models.Index(fields=["is_active", "deadline"], name="target_active_deadline"),
            models.Index(fields=["policy", "is_active"], name="target_policy"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} #{self.cycle} of ticket {self.ticket_id}: {self.state}"

    @property
    def metric_label(self) -> str:
        return engine.METRIC_LABELS.get(self.metric, self.metric)


class EscalationFiring(models.Model):
    """An escalation rule that fired for a target. The unique pair makes it fire once, whatever runs the sweep;
    `notified_at` makes the notification an outbox entry that survives a worker crash."""

    target = models.ForeignKey(TicketTarget, on_delete=models.CASCADE, related_name="firings",
                               db_index=False)  # the unique (target, rule) serves it
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings")
    fired_at = models.DateTimeField()
    due_at = models.DateTimeField(help_text="When the share was reached")
    notify_after = models.DateTimeField(null=True, blank=True, help_text="Held until the calendar works")
    claimed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Which process fired it")

    class Meta:
        ordering = ["fired_at"]
        constraints = [models.UniqueConstraint(fields=["target", "rule"], name="fire_once_per_target")]
        indexes = [models.Index(fields=["notified_at", "notify_after"], name="firing_outbox")]

    def __str__(self) -> str:
        return f"{self.rule} for {self.target}"


def pauses_to_json(pauses: list[engine.Pause]) -> list[list[Any]]:
    return [[begin.isoformat(), end.isoformat(), why] for begin, end, why in pauses]

