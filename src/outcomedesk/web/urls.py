"""The agent workspace under /desk/."""

from django.urls import path

from outcomedesk.web import assist, views

app_name = "web"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk/", views.bulk, name="bulk"),
    path("views/", views.save_view, name="save_view"),
    path("views/<id:view_id>/delete/", views.delete_view, name="delete_view"),
    path("search/", views.search, name="search"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("attachments/<id:attachment_id>/", views.attachment, name="attachment"),
    path("tickets/<str:number>/", views.ticket, name="ticket"),
    path("tickets/<str:number>/edit/", views.ticket_edit, name="ticket_edit"),
    path("tickets/<str:number>/state/", views.ticket_state, name="ticket_state"),
    path("tickets/<str:number>/reopen/", views.ticket_reopen, name="ticket_reopen"),
    path("tickets/<str:number>/comment/", views.ticket_comment, name="ticket_comment"),
    path("tickets/<str:number>/link/", views.ticket_link, name="ticket_link"),
    path("tickets/<str:number>/parent/", views.ticket_parent, name="ticket_parent"),
    path("tickets/<str:number>/merge/", views.ticket_merge, name="ticket_merge"),
    path("assist/", assist.home, name="assist_home"),
    path("assist/drafts/<id:draft_id>/review/", assist.review, name="assist_review"),
    path("assist/patterns/<id:pattern_id>/", assist.pattern, name="assist_pattern"),
    path("tickets/<str:number>/assist/", assist.panel, name="ticket_assist"),
    path("tickets/<str:number>/assist/draft/", assist.draft, name="ticket_assist_draft"),
    path("tickets/<str:number>/assist/<id:suggestion_id>/", assist.decide, name="ticket_assist_decide"),
    path("tickets/<str:number>/impacts/", views.ticket_impact_add, name="ticket_impact_add"),
    path("tickets/<str:number>/impacts/<id:impact_id>/end/", views.ticket_impact_end, name="ticket_impact_end"),
    path("tickets/<str:number>/impacts/<id:impact_id>/remove/", views.ticket_impact_remove,
         name="ticket_impact_remove"),
]
