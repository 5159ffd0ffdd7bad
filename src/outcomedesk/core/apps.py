from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "outcomedesk.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.urls import register_converter

        from outcomedesk.core.parsing import IdConverter

        # Before any app's urls.py is imported: `<id:...>` bounds ids to what the database holds.
        register_converter(IdConverter, "id")
