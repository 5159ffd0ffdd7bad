from django.apps import AppConfig


class ExperienceConfig(AppConfig):
    name = "outcomedesk.experience"
    label = "experience"
    verbose_name = "Experience surveys"

    def ready(self) -> None:
        # The tickets app announces changes; a resolution creates its survey in the same transaction, and its
        # e-mail leaves right after the "resolved" e-mail, from the same task (dependencies point one way: tickets
        # does not know about surveys).
        from outcomedesk.experience.services import after_notifications, on_ticket_changed
        from outcomedesk.tickets.models import Ticket
        from outcomedesk.tickets.signals import notifications_sent, ticket_changed

        ticket_changed.connect(on_ticket_changed, sender=Ticket, dispatch_uid="experience-survey")
        notifications_sent.connect(after_notifications, sender=Ticket, dispatch_uid="experience-survey-mail")
