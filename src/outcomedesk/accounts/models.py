"""People, desks (departments), desk roles, assignment groups and API tokens."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from outcomedesk.core.config_cache import ConfigQuerySet


def validate_sender(value: str) -> None:
    """An address, with or without a name: `it@example.org` or `IT Service Desk <it@example.org>`."""
    _, address = parseaddr(value)
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError(f"{value!r} is not an e-mail address (it@example.org, or Name <it@example.org>)") \
            from None


class User(AbstractUser):
    """A person: requester, agent, manager or platform admin."""

    display_name = models.CharField(max_length=150, blank=True)
    department = models.CharField(max_length=120, blank=True, help_text="Requester's organisation unit")
    is_vip = models.BooleanField(default=False)
    is_service_manager = models.BooleanField(
        default=False, help_text="Sees the figures and non-confidential tickets of every desk"
    )
    is_executive = models.BooleanField(default=False, help_text="Sees the insights of every non-confidential desk")
    away = models.BooleanField(default=False, help_text="Skipped by automatic assignment")
    email_notifications = models.BooleanField(default=True, help_text="Receive ticket e-mails")
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports", help_text="Line manager"
    )
    # Where the account comes from (empty: made here; "ldap", "oidc:<provider>", "saml:<idp>") and the person's
    # id there; written only by accounts.services.apply_directory_person.
    directory_source = models.CharField(max_length=60, blank=True)
    directory_id = models.CharField(max_length=255, blank=True)
    # The flags the directory set (service-manager, executive, platform-admin, vip, inactive): the directory
    # takes back only these when the group goes away, never what an admin granted by hand.
    directory_grants = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                fields=["directory_source", "directory_id"],
                condition=~models.Q(directory_source=""),
                name="one_account_per_directory_person",
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def name(self) -> str:
        return str(self)


class Desk(models.Model):
    """A department that runs a service desk (IT, HR, Facilities...); confidential desks hide their tickets."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    confidential = models.BooleanField(
        default=False, help_text="Tickets visible only to this desk's members and their requesters"
    )
    reopen_window_days = models.PositiveIntegerField(
        default=7, help_text="Days a requester may reopen a resolved ticket"
    )
    send_surveys = models.BooleanField(
        default=True, help_text="E-mail a satisfaction survey when a ticket is resolved"
    )
    email_from = models.CharField(
        max_length=254, blank=True, validators=[validate_sender],
        help_text="Sender of the desk's e-mails, e.g. IT Service Desk <it@example.org>: its mailbox, so that replies "
                  "come back to it. Empty: OUTCOMEDESK_EMAIL_FROM",
    )
    is_active = models.BooleanField(default=True)

    objects = ConfigQuerySet["Desk"].as_manager()  # writes mark the cached desks changed (accounts.queries)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeskRole(models.TextChoices):
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Desk manager"


class MembershipSource(models.TextChoices):
    MANUAL = "manual", "Granted by an admin"
    DIRECTORY = "directory", "From a directory group"


class DeskMembership(models.Model):
    """A person working on a desk, as agent or desk manager."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="desk_memberships")
    desk = models.ForeignKey(Desk, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=DeskRole.choices, default=DeskRole.AGENT)
    # Directory memberships come and go with the person's groups; manual ones stay until an admin removes them.
    source = models.CharField(max_length=20, choices=MembershipSource.choices, default=MembershipSource.MANUAL)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "desk"], name="one_membership_per_desk")]

    def __str__(self) -> str:
        return f"{self.user} - {self.desk} ({self.role})"


class AssignmentMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_LOADED = "least_loaded", "Least loaded"
    MANUAL = "manual", "Manual (group queue only)"


class AssignmentGroup(models.Model):
    """A team inside a desk that tickets are assigned to."""

    desk = models.ForeignKey(Desk, on_delete=models.PROTECT, related_name="groups")
    name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    assignment_method = models.CharField(
        max_length=20, choices=AssignmentMethod.choices, default=AssignmentMethod.MANUAL
    )
    members = models.ManyToManyField(User, through="GroupMembership", related_name="assignment_groups")
    last_assigned = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["desk__name", "name"]
        constraints = [models.UniqueConstraint(fields=["desk", "name"], name="group_name_unique_in_desk")]

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    """A person in an assignment group."""

    group = models.ForeignKey(AssignmentGroup, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="one_group_membership")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class ApiToken(models.Model):
    """A bearer token for the API; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="cli")
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from this moment on; empty: never")
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Updated at most once a minute")
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def state(self, now: datetime) -> str:
        """"active", "expired" or "revoked" at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

class MfaRole(models.TextChoices):
    """The roles a platform admin may require two-factor authentication of."""

    PLATFORM_ADMIN = "platform_admin", "Platform admins"
    SERVICE_MANAGER = "service_manager", "Service managers"
    DESK_MANAGER = "desk_manager", "Desk managers"
    AGENT = "agent", "Agents"
    EXECUTIVE = "executive", "Executives"


class MfaRequirement(models.Model):
    """Whether the people of one role must set up two-factor authentication before they can use Outcomedesk."""

    role = models.CharField(max_length=20, choices=MfaRole.choices, primary_key=True)
    required = models.BooleanField(default=False, help_text="People of this role must use two-factor authentication")

    class Meta:
        ordering = ["role"]
        verbose_name = "MFA requirement"

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {'required' if self.required else 'optional'}"
