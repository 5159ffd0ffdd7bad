from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "outcomedesk.intake"
    label = "intake"
    verbose_name = "Intake"

    def ready(self) -> None:
        from outcomedesk.intake.chat import on_comment_added
        from outcomedesk.intake.webhooks.outbound import on_ticket_event
        from outcomedesk.tickets.signals import comment_added, ticket_event

        comment_added.connect(on_comment_added, dispatch_uid="intake-chat-replies")
        ticket_event.connect(on_ticket_event, dispatch_uid="intake-outbound-webhooks")
