
from django.contrib import admin

from outcomedesk.core.admin import ReadOnlyAdmin
from outcomedesk.improvement.models import Assessment


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    """Read-only: assessments are recorded through improvement.services (the assessment page or the API)."""

    list_display = ("practice", "desk", "assessed_at", "assessed_by", "score")
    list_filter = ("practice", "desk")
    list_select_related = ("desk", "assessed_by")
    date_hierarchy = "assessed_at"
    fields = ("practice", "desk", "assessed_at", "assessed_by", "score", "answers", "notes")
    readonly_fields = fields
    ordering = ("-assessed_at",)
