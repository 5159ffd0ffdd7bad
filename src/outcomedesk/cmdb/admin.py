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
