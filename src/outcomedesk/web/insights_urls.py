"""The insights dashboards under /insights/."""

from django.urls import path

from outcomedesk.web.insights import views

app_name = "insights"
urlpatterns = [
    path("", views.manager, name="manager"),
    path("service/", views.owner, name="owner"),
    path("executive/", views.executive, name="executive"),
    path("tickets/", views.tickets, name="tickets"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("monthly/", views.monthly, name="monthly"),
]
