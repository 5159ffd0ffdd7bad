"""The audit trail: every change of every field, by whom, when and through which channel."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Channel(models.TextChoices):
    WEB = "web", "Agent workspace"
    PORTAL = "portal", "Self-service portal"
    API = "api", "API"
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    MONITORING = "monitoring", "Monitoring"
    SYSTEM = "system", "System"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin"
    ASSIST = "assist", "AI assist"


class AuditEvent(models.Model):
    """One recorded change of one object (a field change, a comment, a state change)."""

    object_type = models.CharField(max_length=40)
    object_id = models.BigIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.SYSTEM)
    action = models.CharField(max_length=40)
    field = models.CharField(max_length=60, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object_at"),
            # Figures over a period (escalations: group and priority changes) read changes of one field by time.
            models.Index(fields=["object_type", "field", "at"], name="audit_field_at"),
        ]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.object_type}#{self.object_id} {self.action} {self.field}"


class ConfigVersion(models.Model):
    """The version of one kind of configuration (`core.config_cache`): a new random stamp whenever it changes."""

    name = models.CharField(max_length=40, primary_key=True)
    stamp = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.name} {self.stamp}"
