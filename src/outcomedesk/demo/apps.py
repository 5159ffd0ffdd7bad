from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "outcomedesk.demo"
    label = "demo"
    verbose_name = "Demo data"
