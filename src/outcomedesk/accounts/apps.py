from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "outcomedesk.accounts"
    label = "accounts"
    verbose_name = "People and desks"
