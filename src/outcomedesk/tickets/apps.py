from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "outcomedesk.tickets"
    label = "tickets"
    verbose_name = "Tickets"
