"""Read-only admin pages of what the AI keeps: every row is written by assist's services (policies and switches
are set through the API or `outcomedesk assist switch`, so that each change is checked and audited). A
confidential desk's models, suggestions, drafts and patterns stay with that desk's members."""

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from outcomedesk.accounts.queries import access_for
from outcomedesk.assist.models import KnowledgeDraft, Pattern, Policy, Suggestion, Switch, TrainedModel
from outcomedesk.core.admin import ReadOnlyAdmin
from outcomedesk.tickets.queries import visible_tickets


class DeskRowsAdmin(ReadOnlyAdmin):
    """Rows of a desk: those of confidential desks only for the desk's own members."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        mine = access_for(request.user).agent_desk_ids
        return super().get_queryset(request).filter(Q(desk__confidential=False) | Q(desk_id__in=mine))


@admin.register(TrainedModel)
class TrainedModelAdmin(DeskRowsAdmin):
    list_display = ("desk", "field", "version", "trained_at", "rows", "classes", "is_active", "size_bytes")
    list_filter = ("desk", "field", "is_active")
    exclude = ("blob",)
    readonly_fields = ("desk", "field", "version", "trained_at", "trained_by", "rows", "classes", "corrections",
                       "figures", "size_bytes", "is_active")


@admin.register(Policy)
class PolicyAdmin(DeskRowsAdmin):
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Suggestion]:
        return super().get_queryset(request).filter(ticket__in=visible_tickets(request.user).values("pk"))


@admin.register(KnowledgeDraft)
class KnowledgeDraftAdmin(DeskRowsAdmin):
    list_display = ("title", "desk", "status", "method", "created_at", "reviewed_by")
    list_filter = ("desk", "status", "method")


@admin.register(Pattern)
class PatternAdmin(DeskRowsAdmin):
    list_display = ("title", "desk", "kind", "score", "status", "last_seen")
    list_filter = ("desk", "kind", "status")
