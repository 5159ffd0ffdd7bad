"""What intake keeps: the mailboxes it reads, and every message that came in, with its original bytes and what
became of it (a ticket, a reply, ignored, or quarantined with the reason)."""

from __future__ import annotations

from django.db import models

from outcomedesk.accounts.models import Desk
from outcomedesk.core.config_cache import ConfigQuerySet
from outcomedesk.tickets.models import Comment, Ticket


class MailboxSecurity(models.TextChoices):
    TLS = "tls", "TLS (IMAPS, port 993)"
    STARTTLS = "starttls", "STARTTLS (port 143)"
    NONE = "none", "None (a server on this machine only)"


class MailboxAuth(models.TextChoices):
    PASSWORD = "password", "Password"
    XOAUTH2 = "xoauth2", "OAuth 2.0 (XOAUTH2: Microsoft 365, Google Workspace)"


class UnknownSenders(models.TextChoices):
    CREATE = "create", "Create the requester"
    REJECT = "reject", "Reject, with a reply saying why"


class Mailbox(models.Model):
    """A desk's mailbox, read over IMAP. The password, token or client secret is never stored here: `secret_env`
    names the environment variable that holds it."""

    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="mailboxes")
    name = models.CharField(max_length=100)
    address = models.EmailField(unique=True, help_text="The address people write to")
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    security = models.CharField(max_length=10, choices=MailboxSecurity.choices, default=MailboxSecurity.TLS)
    username = models.CharField(max_length=255)
    auth = models.CharField(max_length=10, choices=MailboxAuth.choices, default=MailboxAuth.PASSWORD)
    secret_env = models.CharField(
        max_length=100, help_text="The environment variable holding the password; with OAuth 2.0, the access token, "
                                  "or the client's secret when a token endpoint is set")
    # OAuth 2.0 (XOAUTH2) with a token endpoint: an access token is fetched from it when needed (intake/email/oauth.py).
    oauth_token_url = models.CharField(
        max_length=500, blank=True, verbose_name="OAuth token endpoint",
        help_text="OAuth 2.0: where access tokens are fetched (Microsoft 365: "
                  "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token; Google: "
                  "https://oauth2.googleapis.com/token). Empty: the environment variable holds the access token")
    oauth_client_id = models.CharField(max_length=255, blank=True, verbose_name="OAuth client id",
                                       help_text="The application (client) id the token endpoint knows")
    oauth_scope = models.CharField(
        max_length=500, blank=True, verbose_name="OAuth scope",
        help_text="Microsoft 365: https://outlook.office365.com/.default; Google: https://mail.google.com/")
    oauth_refresh_token_env = models.CharField(
        max_length=100, blank=True, verbose_name="OAuth refresh token variable",
        help_text="The environment variable holding a refresh token (the refresh token grant, e.g. Google); "
                  "empty: the client credentials grant (e.g. Microsoft 365)")
    folder = models.CharField(max_length=255, default="INBOX")
    unknown_senders = models.CharField(max_length=10, choices=UnknownSenders.choices, default=UnknownSenders.CREATE)
    is_active = models.BooleanField(default=True)
    # Health, kept by the poller.
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="Failed polls in a row")
    next_poll_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["desk__name", "name"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received, not yet processed"
    TICKETED = "ticketed", "Opened a ticket"
    THREADED = "threaded", "Added to its ticket"
    IGNORED = "ignored", "Ignored (auto-reply, bounce or loop)"
    REJECTED = "rejected", "Rejected (unknown sender)"
    QUARANTINED = "quarantined", "Quarantined"
    DISCARDED = "discarded", "Discarded from the quarantine"


class InboundMessage(models.Model):
    """One message as it arrived. The same message twice (by Message-ID, per desk) is stored once."""

    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    message_id = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    raw = models.FileField(upload_to="intake/%Y/%m/")
    size = models.PositiveIntegerField()
    sender = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    reason = models.TextField(blank=True, help_text="Why it was ignored, rejected or quarantined")
    attempts = models.PositiveSmallIntegerField(default=0)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["desk", "message_id"], name="intake_message_once_per_desk")]
        indexes = [models.Index(fields=["status", "received_at"], name="intake_message_status")]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.get_status_display()})"


class AlertSource(models.Model):
    """A Prometheus Alertmanager that sends its alerts to a desk. It authenticates with the bearer token of its
    integration `account`, an agent of the desk: the incidents are opened, annotated and resolved as that
    account, through the same services and access policy as a person's."""

    name = models.CharField(max_length=100, unique=True)
    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="alert_sources")
    account = models.OneToOneField("accounts.User", on_delete=models.PROTECT, related_name="alert_source")
    service_label = models.CharField(max_length=100, default="service",
                                     help_text="The alert label naming the business service (by slug or name)")
    resolve_when_cleared = models.BooleanField(
        default=False, help_text="Resolve the incident when every alert of its group is resolved")
    is_active = models.BooleanField(default=True)
    last_received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """One alert (by Alertmanager's fingerprint) and the incident of its group; a repeat counts, never
    duplicates."""

    source = models.ForeignKey(AlertSource, on_delete=models.CASCADE, related_name="alerts")
    group_key = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    labels = models.JSONField(default=dict)
    status = models.CharField(max_length=10)  # firing or resolved
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    received = models.PositiveIntegerField(default=1, help_text="Notifications of this alert received")
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "fingerprint", "starts_at"],
                                               name="intake_alert_once")]
        indexes = [models.Index(fields=["source", "group_key"], name="intake_alert_group")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class ChatPlatform(models.TextChoices):
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


class ChatChannel(models.Model):
    """A chat channel whose messages open tickets on a desk."""

    platform = models.CharField(max_length=10, choices=ChatPlatform.choices)
    channel_id = models.CharField(max_length=100, help_text="The platform's id of the channel (Slack: C0123...)")
    name = models.CharField(max_length=100, blank=True)
    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="chat_channels")
    is_active = models.BooleanField(default=True)

    objects = ConfigQuerySet["ChatChannel"].as_manager()  # writes mark the cached "any channel?" changed

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "channel_id"], name="intake_chat_channel_once")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.name or self.channel_id}"


class ChatThread(models.Model):
    """The chat thread of a ticket: replies in it are comments, agents' public replies are posted to it."""

    channel = models.ForeignKey(ChatChannel, on_delete=models.CASCADE, related_name="threads")
    thread_id = models.CharField(max_length=100, help_text="The id of the thread's first message (Slack: its ts)")
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="chat_thread")
    # Teams through the bot only (an outgoing webhook can only answer, never post later): where posts go.
    service_url = models.CharField(max_length=300, blank=True, help_text="Teams bot: the Bot Connector's address")
    conversation_id = models.CharField(max_length=300, blank=True,
                                       help_text="Teams bot: the thread's conversation (…;messageid=…)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "thread_id"], name="intake_chat_thread_once")]

    def __str__(self) -> str:
        return f"{self.channel} thread {self.thread_id}"


class ChatEvent(models.Model):
    """One event a chat platform delivered, kept once (platforms deliver again when unsure) and handled by a
    background task."""

    platform = models.CharField(max_length=10, choices=ChatPlatform.choices)
    event_id = models.CharField(max_length=100)
    desk = models.ForeignKey(Desk, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField()
    received_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    answer = models.TextField(blank=True, help_text="Teams bot: the answer posted in the conversation")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "event_id"], name="intake_chat_event_once")]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} event {self.event_id}"


class WebhookSource(models.Model):
    """Another system that opens, comments on and resolves tickets of a desk by signed webhook: its requests are
    signed with the secret in the environment variable `secret_env` and act as its integration `account`, an
    agent of the desk."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True, help_text="Its address: /api/v1/intake/webhooks/<slug>")
    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="webhook_sources")
    account = models.OneToOneField("accounts.User", on_delete=models.PROTECT, related_name="webhook_source")
    secret_env = models.CharField(max_length=100, help_text="The environment variable holding the signing secret")
    is_active = models.BooleanField(default=True)
    last_received_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookSubscription(models.Model):
    """Another system told of a desk's ticket events by signed HTTP POSTs (outbound webhooks)."""

    name = models.CharField(max_length=100)
    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="created, assigned, comment, note, state, resolved, reopened")
    secret_env = models.CharField(max_length=100, help_text="The environment variable holding the signing secret")
    is_active = models.BooleanField(default=True)

    objects = ConfigQuerySet["WebhookSubscription"].as_manager()  # writes mark the cached subscriptions changed

    class Meta:
        ordering = ["desk__name", "name"]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent (again)"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed: given up"


class WebhookDelivery(models.Model):
    """One event for one subscription, written in the transaction of the change (so it is never lost), sent after
    commit and again with backoff until the receiver answers 2xx; its log keeps the last response."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="+")  # the subscription's, for the policy
    event = models.CharField(max_length=20)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField()
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="intake_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription} ({self.status})"


class ChatPost(models.Model):
    """A message the desk posted to chat: an agent's reply in a ticket's thread (`comment`), or the Teams bot's
    answer to a message (`event`); kept so that a task run twice posts it once."""

    comment = models.OneToOneField(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event = models.OneToOneField(ChatEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(ChatThread, null=True, blank=True, on_delete=models.CASCADE, related_name="posts")
    message_ts = models.CharField(max_length=100, blank=True, help_text="The platform's id of the posted message")
    posted_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(
            condition=models.Q(comment__isnull=False, event__isnull=True)
            | models.Q(comment__isnull=True, event__isnull=False), name="intake_chat_post_of_one")]

    def __str__(self) -> str:
        return f"comment {self.comment_id}" if self.comment_id else f"answer to chat event {self.event_id}"
