from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "outcomedesk.api"
    label = "api"
