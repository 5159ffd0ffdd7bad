from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "outcomedesk.intake"
    label = "intake"
    verbose_name = "Intake"

    def ready(self) -> None:
        from outcomedesk.intake.slack.services import on_comment_added
        from outcomedesk.tickets.signals import comment_added

        comment_added.connect(on_comment_added, dispatch_uid="intake-chat-replies")
