from django.apps import AppConfig


class AssistConfig(AppConfig):
    name = "outcomedesk.assist"
    label = "assist"
    verbose_name = "AI assist"

    def ready(self) -> None:
        # New tickets are triaged after they commit; agents' changes of a suggested field are recorded as
        # their verdict on it (tickets announces both; it does not know about the AI).
        from outcomedesk.assist.services import on_ticket_changed, on_ticket_opened
        from outcomedesk.tickets.models import Ticket
        from outcomedesk.tickets.signals import ticket_changed, ticket_opened

        ticket_opened.connect(on_ticket_opened, sender=Ticket, dispatch_uid="assist-triage")
        ticket_changed.connect(on_ticket_changed, sender=Ticket, dispatch_uid="assist-corrections")
