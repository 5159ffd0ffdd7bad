from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "outcomedesk.accounts"
    label = "accounts"
    verbose_name = "People and desks"

    def ready(self) -> None:
        from outcomedesk.accounts import (
            checks,  # noqa: F401  (registers the system checks)
            queries,  # noqa: F401  (its desk cache watches desks: core.config_cache)
        )
