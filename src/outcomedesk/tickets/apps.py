from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "outcomedesk.tickets"
    label = "tickets"
    verbose_name = "Tickets"

    def ready(self) -> None:
        # Their configuration caches watch the models they read from now on, in every process (core.config_cache).
        from outcomedesk.tickets import priority, routing  # noqa: F401
