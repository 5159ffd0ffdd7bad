from django.apps import AppConfig


class ExperienceConfig(AppConfig):
    name = "outcomedesk.experience"
    label = "experience"
    verbose_name = "Experience surveys"

    def ready(self) -> None:
        # The tickets app announces changes; a resolution creates its survey in the same transaction and the
        # e-mail leaves after commit (dependencies point one way: tickets does not know about surveys).
        from outcomedesk.experience.services import on_ticket_changed
        from outcomedesk.tickets.models import Ticket
        from outcomedesk.tickets.signals import ticket_changed

        ticket_changed.connect(on_ticket_changed, sender=Ticket, dispatch_uid="experience-survey")
