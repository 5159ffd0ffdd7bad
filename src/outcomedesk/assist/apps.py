from django.apps import AppConfig


class AssistConfig(AppConfig):
    name = "outcomedesk.assist"
    label = "assist"
    verbose_name = "AI assist"
