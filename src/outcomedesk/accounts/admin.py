from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from outcomedesk.accounts.models import (
    ApiToken,
    AssignmentGroup,
    Desk,
    DeskMembership,
    GroupMembership,
    MfaRequirement,
    User,
)
from outcomedesk.accounts.services import set_mfa_requirement


class DeskMembershipInline(admin.TabularInline):
    model = DeskMembership
    extra = 0
    readonly_fields = ("source",)  # memberships added here are manual; directory ones follow the groups


class GroupMembershipInline(admin.TabularInline):
    model = GroupMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "email", "department", "is_service_manager", "is_executive", "away",
                    "is_active")
    list_filter = ("is_service_manager", "is_executive", "is_superuser", "away", "is_active",
                   "desk_memberships__desk", "directory_source")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("Outcomedesk", {"fields": ("display_name", "department", "manager", "is_vip", "is_service_manager",
                                    "is_executive", "away", "email_notifications")}),
        ("Directory", {"fields": ("directory_source", "directory_id", "directory_grants")}),
    )
    readonly_fields = ("directory_source", "directory_id", "directory_grants")
    autocomplete_fields = ("manager",)
    inlines = [DeskMembershipInline]


@admin.register(Desk)
class DeskAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "confidential", "reopen_window_days", "email_from", "is_active")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [DeskMembershipInline]


@admin.register(AssignmentGroup)
class AssignmentGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "desk", "assignment_method", "is_active")
    list_filter = ("desk", "assignment_method")
    search_fields = ("name",)
    exclude = ("last_assigned",)
    inlines = [GroupMembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("expires_at", "revoked_at")
    search_fields = ("prefix", "user__username", "name")
    readonly_fields = ("prefix", "key_hash", "created_at", "expires_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # `outcomedesk token create`: the key is shown once, and only there


@admin.register(MfaRequirement)
class MfaRequirementAdmin(admin.ModelAdmin):
    """Which roles must use two-factor authentication; a change applies on every server within a minute."""

    list_display = ("role", "required")
    list_editable = ("required",)
    list_display_links = None

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: MfaRequirement, form: Any, change: bool) -> None:
        set_mfa_requirement(obj.role, obj.required)
