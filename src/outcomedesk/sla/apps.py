from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "outcomedesk.sla"
    label = "sla"
    verbose_name = "Service levels"

    def ready(self) -> None:
        # The tickets app announces changes; the SLA engine recomputes the ticket's targets in the same
        # transaction (dependencies point one way: tickets does not know about SLAs).
        from outcomedesk.sla.services import on_ticket_changed
        from outcomedesk.tickets.models import Ticket
        from outcomedesk.tickets.signals import ticket_changed

        ticket_changed.connect(on_ticket_changed, sender=Ticket, dispatch_uid="sla-refresh")
