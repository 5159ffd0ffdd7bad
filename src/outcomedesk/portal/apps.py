from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "outcomedesk.portal"
    label = "portal"
