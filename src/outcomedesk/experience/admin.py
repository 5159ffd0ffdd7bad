
from django.contrib import admin

from outcomedesk.core.admin import ReadOnlyAdmin
from outcomedesk.experience.models import Survey


@admin.register(Survey)
class SurveyAdmin(ReadOnlyAdmin):
    """Read-only: surveys are written by experience.services only. The token (the requester's credential) is
    not shown."""

    list_display = ("ticket", "sent_at", "channel", "score", "responded_at", "responded_via")
    list_filter = ("channel", "score", "responded_via", "ticket__desk")
    list_select_related = ("ticket",)
    search_fields = ("ticket__number",)
    date_hierarchy = "sent_at"
    fields = ("ticket", "resolution_at", "sent_at", "channel", "score", "comment", "responded_at", "responded_via")
    readonly_fields = fields
    ordering = ("-sent_at",)
