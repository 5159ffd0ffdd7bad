from django.apps import AppConfig


class CmdbConfig(AppConfig):
    name = "outcomedesk.cmdb"
    label = "cmdb"
    verbose_name = "Services and configuration"
