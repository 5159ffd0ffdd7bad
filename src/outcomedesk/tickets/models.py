"""Incidents and service requests: one lifecycle, their conversation, attachments and links."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from outcomedesk.core.config_cache import ConfigQuerySet
from outcomedesk.core.models import Channel


class TicketType(models.TextChoices):
    INCIDENT = "incident", "Incident"
    REQUEST = "request", "Service request"


NUMBER_PREFIX = {TicketType.INCIDENT: "INC", TicketType.REQUEST: "REQ"}


class State(models.TextChoices):
    NEW = "new", "New"
    ASSIGNED = "assigned", "Assigned"
    IN_PROGRESS = "in_progress", "In progress"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = (State.NEW, State.ASSIGNED, State.IN_PROGRESS, State.PENDING)
DONE_STATES = (State.RESOLVED, State.CLOSED, State.CANCELLED)


class PendingReason(models.TextChoices):
    REQUESTER = "requester", "Awaiting requester"
    VENDOR = "vendor", "Awaiting vendor"
    CHANGE = "change", "Awaiting change"
    PROBLEM = "problem", "Awaiting problem"


class Level(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


class Priority(models.IntegerChoices):
    CRITICAL = 1, "P1 - Critical"
    HIGH = 2, "P2 - High"
    MODERATE = 3, "P3 - Moderate"
    LOW = 4, "P4 - Low"
    PLANNING = 5, "P5 - Planning"


class Category(models.Model):
    """A category of tickets within one desk (e.g. IT > Hardware)."""

    desk = models.ForeignKey("accounts.Desk", on_delete=models.PROTECT, related_name="categories")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["desk__name", "name"]
        verbose_name_plural = "categories"
        constraints = [models.UniqueConstraint(fields=["desk", "name"], name="category_unique_in_desk")]

    def __str__(self) -> str:
        return self.name


class PriorityMatrixEntry(models.Model):
    """One cell of the impact x urgency -> priority matrix."""

    impact = models.PositiveSmallIntegerField(choices=Level.choices)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)

    objects = ConfigQuerySet["PriorityMatrixEntry"].as_manager()  # writes mark the cached configuration changed

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name_plural = "priority matrix"
        constraints = [models.UniqueConstraint(fields=["impact", "urgency"], name="one_priority_per_cell")]

    def __str__(self) -> str:
        return f"impact {self.impact} x urgency {self.urgency} -> P{self.priority}"


class Tag(models.Model):
    """A free label on tickets."""

    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    """An incident or a service request."""

    number = models.CharField(max_length=20, unique=True)
    type = models.CharField(max_length=12, choices=TicketType.choices, default=TicketType.INCIDENT)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets")
    desk = models.ForeignKey("accounts.Desk", on_delete=models.PROTECT, related_name="tickets")
    service = models.ForeignKey(
        "cmdb.BusinessService", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="tickets")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.PORTAL)
    group = models.ForeignKey(
        "accounts.AssignmentGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_tickets"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    impact = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.LOW)
    urgency = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.LOW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.LOW)
    state = models.CharField(max_length=12, choices=State.choices, default=State.NEW)
    pending_reason = models.CharField(max_length=12, choices=PendingReason.choices, blank=True)
    resolution_code = models.CharField(max_length=40, blank=True)
    resolution_notes = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="watched_tickets")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    reassignment_count = models.PositiveIntegerField(default=0)
    reopen_count = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1, help_text="Raised on every change; guards against lost updates")
    external_ref = models.CharField(
        max_length=100, blank=True, help_text="Reference in the system it came from (re-imports skip it)"
    )
    imported_sla_met = models.BooleanField(
        null=True, blank=True, help_text="The SLA outcome the tool it was imported from recorded (e.g. made_sla)"
    )
    blocks_work = models.BooleanField(
        default=False, help_text="The requester cannot work until it is done (counts as lost productivity)"
    )
    # Kept by the state changes, for METRICS.md's requester_wait_hours and first_contact_resolution_rate.
    pending_since = models.DateTimeField(null=True, blank=True)
    awaiting_requester_seconds = models.BigIntegerField(
        default=0, help_text="Time spent pending on the requester, in completed stretches"
    )
    first_contact_resolution = models.BooleanField(
        null=True, blank=True,
        help_text="Resolved at the first agent interaction: no requester reply, never waiting on them, one group",
    )

    class Meta:
        ordering = ["priority", "opened_at"]
        indexes = [
            # The agent queue: open tickets of one group by priority then age.
            models.Index(
                fields=["group", "priority", "opened_at"], name="ticket_open_queue",
                condition=Q(state__in=["new", "assigned", "in_progress", "pending"]),
            ),
            models.Index(
                fields=["assignee", "priority", "opened_at"], name="ticket_open_assignee",
                condition=Q(state__in=["new", "assigned", "in_progress", "pending"]),
            ),
            models.Index(fields=["desk", "state", "priority", "opened_at"], name="ticket_desk_state"),
            models.Index(fields=["requester", "opened_at"], name="ticket_requester"),
            models.Index(fields=["opened_at"], name="ticket_opened"),
            models.Index(fields=["resolved_at"], name="ticket_resolved"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_ref"], condition=~Q(external_ref=""), name="one_ticket_per_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class ServiceImpact(models.Model):
    """The window in which an incident stopped (part of) a business service: what downtime cost is made of."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="impacts")
    service = models.ForeignKey("cmdb.BusinessService", on_delete=models.PROTECT, related_name="impacts")
    impact_start = models.DateTimeField()
    impact_end = models.DateTimeField(null=True, blank=True, help_text="Empty while the impact lasts")
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    impact_fraction = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True,
        help_text="Share of the service's users affected, 0 to 1 (1 = full outage)",
    )
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["impact_start", "id"]
        indexes = [models.Index(fields=["service", "impact_start"], name="impact_service_start")]
        constraints = [
            models.CheckConstraint(
                condition=Q(impact_end__isnull=True) | Q(impact_end__gte=models.F("impact_start")),
                name="impact_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"impact of {self.ticket_id} on {self.service_id}"


class Comment(models.Model):
    """A public reply or an internal note on a ticket."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(help_text="Sanitised HTML")
    is_public = models.BooleanField(default=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_ticket_at")]

    def __str__(self) -> str:
        return f"{'Reply' if self.is_public else 'Note'} on {self.ticket_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"tickets/{instance.ticket_id}/{instance.stored_name}"


class Attachment(models.Model):
    """A file attached to a ticket, stored outside the database."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    stored_name = models.CharField(max_length=80)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=120)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class TicketLink(models.Model):
    """Two tickets that relate to each other (in both directions)."""

    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "target"], name="one_link_per_pair")]

    def __str__(self) -> str:
        return f"{self.source_id} <-> {self.target_id}"


class NumberSequence(models.Model):
    """The last number given per prefix (INC, REQ)."""

    prefix = models.CharField(max_length=8, primary_key=True)
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}{self.last:07d}"


class AssignmentRule(models.Model):
    """Routes a new ticket to a group when desk, category, service and keywords match; lowest order wins."""

    name = models.CharField(max_length=100)
    desk = models.ForeignKey("accounts.Desk", on_delete=models.CASCADE, related_name="assignment_rules")
    order = models.PositiveIntegerField(default=100)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE)
    service = models.ForeignKey("cmdb.BusinessService", null=True, blank=True, on_delete=models.CASCADE)
    ticket_type = models.CharField(max_length=12, choices=TicketType.choices, blank=True)
    keywords = models.CharField(
        max_length=300, blank=True, help_text="Comma-separated; any one in the title or description matches"
    )
    group = models.ForeignKey("accounts.AssignmentGroup", on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)

    objects = ConfigQuerySet["AssignmentRule"].as_manager()  # writes mark the cached configuration changed

    class Meta:
        ordering = ["desk", "order", "id"]

    def __str__(self) -> str:
        return self.name


class SavedView(models.Model):
    """A named queue filter: personal, or shared with a desk as one of its queues."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="saved_views"
    )
    desk = models.ForeignKey(
        "accounts.Desk", null=True, blank=True, on_delete=models.CASCADE, related_name="queues",
        help_text="Set to share the view as a queue of this desk",
    )
    query = models.CharField(max_length=500, help_text="Filter as a query string, e.g. state=open&group=3")
    position = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class SearchDocument(models.Model):
    """The searchable text of one ticket (number, title, description, replies, notes)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="search_document")
    body = models.TextField()

    def __str__(self) -> str:
        return f"search document of {self.ticket_id}"
