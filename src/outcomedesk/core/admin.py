from django.contrib import admin

from outcomedesk.core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "object_type", "object_id", "action", "field", "actor", "channel")
    list_filter = ("object_type", "action", "channel")
    search_fields = ("object_id", "field", "new_value")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
