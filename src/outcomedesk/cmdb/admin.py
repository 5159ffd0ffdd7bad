from django.contrib import admin

from outcomedesk.cmdb.models import BusinessService


@admin.register(BusinessService)
class BusinessServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "desk", "owner", "criticality", "users_served", "cost_of_downtime_per_hour",
                    "experience_target", "is_active")
    list_filter = ("desk", "criticality", "is_active")
    search_fields = ("name", "description")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("owner",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "desk", "owner", "criticality", "is_active")}),
        ("Value", {"fields": ("users_served", "cost_of_downtime_per_hour")}),
        ("Targets", {"fields": ("sla_target_percent", "experience_target")}),
        ("Watermelon thresholds", {"fields": ("watermelon_reopen_rate", "watermelon_downtime_rise",
                                              "watermelon_cluster_size")}),
    )
