from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "outcomedesk.insights"
    label = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from outcomedesk.insights.aggregates import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="insights-sqlite-functions")
