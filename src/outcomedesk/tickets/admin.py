from django.contrib import admin

from outcomedesk.tickets.models import AssignmentRule, Category, PriorityMatrixEntry, SavedView, Tag, Ticket


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "desk", "is_active")
    list_filter = ("desk", "is_active")
    search_fields = ("name",)


@admin.register(PriorityMatrixEntry)
class PriorityMatrixAdmin(admin.ModelAdmin):
    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)
    list_display_links = None


@admin.register(AssignmentRule)
class AssignmentRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "desk", "order", "category", "service", "ticket_type", "keywords", "group", "is_active")
    list_filter = ("desk", "is_active")
    list_editable = ("order", "is_active")


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ("name", "desk", "owner", "query", "position")
    list_filter = ("desk",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only: tickets change through the workspace and the API, where permissions and audit apply."""

    list_display = ("number", "title", "desk", "state", "priority", "group", "assignee", "opened_at")
    list_filter = ("state", "type", "priority")
    search_fields = ("number",)
    list_select_related = ("desk", "group", "assignee")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
