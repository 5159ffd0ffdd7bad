from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "outcomedesk.mail"
    label = "mail"
    verbose_name = "Outgoing e-mail"
