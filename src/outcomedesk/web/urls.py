from django.urls import path

from outcomedesk.web import views

app_name = "web"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("tickets/<str:number>/", views.ticket, name="ticket"),
]
