from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from outcomedesk.core.models import AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin page that shows rows written by the services (the one write path) and changes none."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "object_type", "object_id", "action", "field", "actor", "channel")
    list_filter = ("object_type", "action", "channel")
    search_fields = ("object_id", "field", "new_value")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
