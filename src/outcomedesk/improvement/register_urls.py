"""Pages of the continual improvement register, under /insights/improvement/."""

from django.urls import path

from outcomedesk.improvement import register_views

app_name = "improvement_register"
urlpatterns = [
    path("", register_views.register, name="list"),
    path("new/", register_views.create, name="create"),
    path("<id:pk>/", register_views.detail, name="detail"),
    path("<id:pk>/edit/", register_views.edit, name="edit"),
    path("<id:pk>/status/", register_views.change_status, name="status"),
]
