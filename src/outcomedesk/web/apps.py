from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "outcomedesk.web"
    label = "web"
