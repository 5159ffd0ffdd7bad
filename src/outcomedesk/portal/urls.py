from django.urls import path

from outcomedesk.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("tickets/<str:number>/", views.ticket, name="ticket"),
]
