from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "outcomedesk.core"
    label = "core"
    verbose_name = "Core"
