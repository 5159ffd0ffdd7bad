"""Outgoing e-mail: the outbox every notification goes through, the templates desks give their e-mails, and what
each person wants to receive.

A notification is a row of the outbox before it is a message: written with an idempotency key (the event and the
recipient), so a task that runs twice queues it once; sent after commit by a worker, and again with backoff while
the mail server refuses it; its Message-ID is chosen once, so a resend after a crash is the same message to the
recipient's mail system."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from outcomedesk.accounts.models import Desk


class Kind(models.TextChoices):
    """What an e-mail is about; each can be turned off by the person who receives it."""

    CREATED = "created", "A request is received (the confirmation)"
    ASSIGNED = "assigned", "A ticket is assigned to me"
    COMMENT = "comment", "A new reply"
    NOTE = "note", "An internal note (agents)"
    STATE = "state", "The state changes"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    MERGED = "merged", "Merged into another request"
    SURVEY = "survey", "Satisfaction survey"
    SLA = "sla", "Service level warnings and breaches (agents)"
    REJECTED = "rejected", "A message the desk did not take (to its sender)"


STAFF_KINDS = frozenset({Kind.ASSIGNED, Kind.NOTE, Kind.SLA})  # only agents receive these
NOT_A_CHOICE = frozenset({Kind.REJECTED})  # sent to people without an account: nobody turns it off


class MailState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Gave up"
    CANCELLED = "cancelled", "Cancelled"


class MailTemplate(models.Model):
    """A desk's subject and text of one kind of e-mail (Django template syntax); without a desk, every desk's
    that has none of its own. Without any, the built-in text (mail/templates/mail/)."""

    desk = models.ForeignKey(Desk, null=True, blank=True, on_delete=models.CASCADE, related_name="mail_templates",
                             help_text="Empty: every desk without a template of its own")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField(help_text="Plain text with {{ ticket.number }}-style placeholders")
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["desk__name", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["desk", "kind"], name="mail_template_desk_kind"),
            models.UniqueConstraint(fields=["kind"], condition=Q(desk__isnull=True), name="mail_template_default"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.desk.name if self.desk else 'every desk'})"


class MailPreference(models.Model):
    """One person's choice for one kind of e-mail (no row: they receive it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_preferences")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="mail_preference_user_kind")]

    def __str__(self) -> str:
        return f"{self.user} {'receives' if self.enabled else 'does not receive'} {self.kind}"


class OutgoingMail(models.Model):
    """One e-mail to one person, queued in or right after the change it tells of, sent by a worker."""

    key = models.CharField(max_length=200, unique=True, help_text="The idempotency key: one e-mail per key, ever")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    desk = models.ForeignKey(Desk, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    ticket_number = models.CharField(max_length=20, blank=True, db_index=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    to = models.EmailField(max_length=254)
    sender = models.CharField(max_length=300, blank=True, help_text="Empty: OUTCOMEDESK_EMAIL_FROM")
    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=300)
    after = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              help_text="Sent only once this one is sent (or given up): the survey after 'resolved'")
    state = models.CharField(max_length=10, choices=MailState.choices, default=MailState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outgoing e-mail"
        verbose_name_plural = "outgoing e-mails"
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="mail_outbox_due")]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to} ({self.state})"
