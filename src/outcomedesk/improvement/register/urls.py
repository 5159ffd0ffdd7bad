"""Pages of the continual improvement register, under /insights/improvement/."""

from django.urls import path

from outcomedesk.improvement.register import views

app_name = "improvement_register"
urlpatterns = [
    path("", views.register, name="list"),
    path("new/", views.create, name="create"),
    path("<id:pk>/", views.detail, name="detail"),
    path("<id:pk>/edit/", views.edit, name="edit"),
    path("<id:pk>/status/", views.change_status, name="status"),
]
