from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "outcomedesk.intake"
    label = "intake"
    verbose_name = "Intake"
