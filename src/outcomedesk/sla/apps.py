from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "outcomedesk.sla"
    label = "sla"
    verbose_name = "Service levels"
