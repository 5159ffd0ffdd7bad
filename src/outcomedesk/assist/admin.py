"""Read-only admin pages of what the AI keeps: every row is written by assist's services (policies and switches
are set through the API or `outcomedesk assist switch`, so that each change is checked and audited). A
confidential desk's models, suggestions, drafts and patterns stay with that desk's members (the admin site
restricts every page through the access policy)."""

from django.contrib import admin

from outcomedesk.assist.models import KnowledgeDraft, Pattern, Policy, Suggestion, Switch, TrainedModel
from outcomedesk.core.admin import ReadOnlyAdmin


@admin.register(TrainedModel)
class TrainedModelAdmin(ReadOnlyAdmin):
    list_display = ("desk", "field", "version", "trained_at", "rows", "classes", "is_active", "size_bytes")
    list_filter = ("desk", "field", "is_active")
    exclude = ("blob",)
    readonly_fields = ("desk", "field", "version", "trained_at", "trained_by", "rows", "classes", "corrections",
                       "figures", "size_bytes", "is_active")


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ("desk", "field", "mode", "threshold", "updated_by", "updated_at")
    list_filter = ("desk", "mode")


@admin.register(Switch)
class SwitchAdmin(ReadOnlyAdmin):
    list_display = ("feature", "enabled", "reason", "changed_by", "changed_at")


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "kind", "field", "display", "confidence", "outcome", "version", "created_at")
    list_filter = ("kind", "field", "outcome")
    list_select_related = ("ticket",)
    search_fields = ("ticket__number",)



@admin.register(KnowledgeDraft)
class KnowledgeDraftAdmin(ReadOnlyAdmin):
    list_display = ("title", "desk", "status", "method", "created_at", "reviewed_by")
    list_filter = ("desk", "status", "method")


@admin.register(Pattern)
class PatternAdmin(ReadOnlyAdmin):
    list_display = ("title", "desk", "kind", "score", "status", "last_seen")
    list_filter = ("desk", "kind", "status")
