"""The self-service portal under /portal/."""

from django.urls import path

from outcomedesk.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("new/<slug:desk_slug>/", views.new_ticket, name="new_ticket"),
    path("tickets/", views.my_tickets, name="tickets"),
    path("tickets/<str:number>/", views.ticket, name="ticket"),
    path("tickets/<str:number>/reply/", views.reply, name="reply"),
    path("tickets/<str:number>/reopen/", views.reopen, name="reopen"),
    path("tickets/<str:number>/close/", views.close, name="close"),
    path("tickets/<str:number>/cancel/", views.cancel, name="cancel"),
    path("tickets/<str:number>/rate/", views.rate, name="rate"),
    path("attachments/<id:attachment_id>/", views.attachment, name="attachment"),
    path("preferences/", views.preferences, name="preferences"),
    # Satisfaction surveys: the token in the e-mail's links is the credential, no login needed.
    path("survey/<str:token>/", views.survey, name="survey"),
    path("survey/<str:token>/<str:score>/", views.survey_score, name="survey_score"),
]
