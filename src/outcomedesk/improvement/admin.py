from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from outcomedesk.improvement.models import Assessment


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    """Read-only: assessments are recorded through improvement.services (the assessment page or the API)."""

    list_display = ("practice", "desk", "assessed_at", "assessed_by", "score")
    list_filter = ("practice", "desk")
    list_select_related = ("desk", "assessed_by")
    date_hierarchy = "assessed_at"
    fields = ("practice", "desk", "assessed_at", "assessed_by", "score", "answers", "notes")
    readonly_fields = fields
    ordering = ("-assessed_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
