from django.apps import AppConfig


class ImprovementConfig(AppConfig):
    name = "outcomedesk.improvement"
    label = "improvement"
    verbose_name = "Maturity and continual improvement"
