"""Intake in the admin: the mailboxes with their health, and the log of every message with the quarantine's
actions (retry, discard), each through `intake.email.services`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from outcomedesk.core.admin import ReadOnlyAdmin
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.intake.alertmanager import services as alerts
from outcomedesk.intake.email import services
from outcomedesk.intake.models import (
    Alert,
    AlertSource,
    ChatChannel,
    ChatEvent,
    InboundMessage,
    Mailbox,
    WebhookDelivery,
    WebhookSource,
    WebhookSubscription,
)
from outcomedesk.intake.slack import services as chat
from outcomedesk.intake.webhooks import outbound
from outcomedesk.intake.webhooks import services as webhooks


class _DryRun(Exception):
    """Rolls back a check of a configuration through its service."""


class ConnectionAdmin(admin.ModelAdmin):
    """An intake connection's configuration, written by its service (never by the admin's own save): the form is
    checked by running the service in a transaction that is rolled back, so its errors show beside the fields,
    then saved by it for real. Connections are switched off (is_active), not deleted: their logs stay."""

    service_fields: tuple[str, ...] = ()

    def save_with(self, actor: Any, values: dict[str, Any], stored: Any) -> Any:
        raise NotImplementedError

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _values(self, form: Any) -> dict[str, Any]:
        return {name: form.cleaned_data[name] for name in self.service_fields if name in form.cleaned_data}

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)
        admin_ = self

        class Checked(base):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                cleaned = super().clean()
                if self.errors:
                    return cleaned
                stored = type(obj).objects.get(pk=obj.pk) if obj is not None and obj.pk else None
                try:
                    with transaction.atomic():
                        admin_.save_with(request.user, admin_._values(self), stored)
                        raise _DryRun
                except _DryRun:
                    pass
                except InvalidInput as exc:
                    for field, message in exc.errors.items():
                        self.add_error(field if field in self.fields else None, message)
                except NotAllowed as exc:
                    self.add_error(None, exc.message)
                return cleaned

        return Checked

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        stored = type(obj).objects.get(pk=obj.pk) if change else None
        obj.pk = self.save_with(request.user, self._values(form), stored).pk


@admin.register(Mailbox)
class MailboxAdmin(ConnectionAdmin):
    list_display = ("name", "address", "desk", "is_active", "last_success_at", "failures", "last_error")
    list_filter = ("desk", "is_active")
    list_select_related = ("desk",)
    readonly_fields = ("last_attempt_at", "last_success_at", "last_error", "failures", "next_poll_at")

    service_fields = services.MAILBOX_FIELDS

    def save_with(self, actor: Any, values: dict[str, Any], stored: Any) -> Any:
        return services.save_mailbox(actor, values, mailbox=stored)


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "desk", "mailbox", "sender", "subject", "status", "ticket", "reason")
    # No filter by mailbox: the admin lists a filter's choices unrestricted, and a confidential desk's mailbox name
    # would show there (the permission matrix caught it).
    list_filter = ("status", "desk")
    list_select_related = ("desk", "mailbox", "ticket")
    search_fields = ("message_id", "sender", "subject")
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundMessage._meta.fields]
    actions = ["retry", "discard"]

    @admin.action(description="Process the selected quarantined or rejected messages again")
    def retry(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        self._each(request, queryset, services.retry, "processed again")

    @admin.action(description="Discard the selected quarantined or rejected messages (their originals are deleted)")
    def discard(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        self._each(request, queryset, services.discard, "discarded")

    def _each(self, request: HttpRequest, queryset: QuerySet[InboundMessage], action: Any, done: str) -> None:
        count = 0
        for row in queryset:
            try:
                action(request.user, row)
                count += 1
            except (InvalidInput, NotAllowed, NotFound) as exc:
                self.message_user(request, f"message {row.pk}: {exc.message}", messages.WARNING)
        if count:
            self.message_user(request, f"{count} message(s) {done}", messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # ReadOnlyAdmin denies changes; these two actions go through the services, which check the policy.
        return {name: value for name, value in admin.ModelAdmin.get_actions(self, request).items()
                if name in ("retry", "discard")}


@admin.register(AlertSource)
class AlertSourceAdmin(ConnectionAdmin):
    list_display = ("name", "desk", "account", "service_label", "resolve_when_cleared", "is_active", "last_received_at")
    list_filter = ("desk", "is_active")
    list_select_related = ("desk", "account")
    readonly_fields = ("last_received_at",)
    raw_id_fields = ("account",)  # a select would list every person, whichever desks they are on

    service_fields = alerts.SOURCE_FIELDS

    def save_with(self, actor: Any, values: dict[str, Any], stored: Any) -> Any:
        return alerts.save_alert_source(actor, values, source=stored)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("name", "source", "status", "ticket", "received", "starts_at", "ends_at", "last_received_at")
    list_filter = ("status",)  # not by source: a filter lists its choices unrestricted
    list_select_related = ("source", "ticket")
    search_fields = ("name", "fingerprint")
    readonly_fields = [f.name for f in Alert._meta.fields]


@admin.register(ChatChannel)
class ChatChannelAdmin(ConnectionAdmin):
    list_display = ("platform", "name", "channel_id", "desk", "is_active")
    list_filter = ("platform", "desk", "is_active")
    list_select_related = ("desk",)

    service_fields = chat.CHANNEL_FIELDS

    def save_with(self, actor: Any, values: dict[str, Any], stored: Any) -> Any:
        return chat.save_chat_channel(actor, values, channel=stored)


@admin.register(ChatEvent)
class ChatEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "platform", "event_id", "desk", "handled_at", "outcome", "ticket")
    list_filter = ("platform", "desk")
    list_select_related = ("desk", "ticket")
    readonly_fields = [f.name for f in ChatEvent._meta.fields]


@admin.register(WebhookSource)
class WebhookSourceAdmin(ConnectionAdmin):
    list_display = ("name", "slug", "desk", "account", "is_active", "last_received_at")
    list_filter = ("desk", "is_active")
    list_select_related = ("desk", "account")
    readonly_fields = ("last_received_at",)
    raw_id_fields = ("account",)

    service_fields = webhooks.SOURCE_FIELDS

    def save_with(self, actor: Any, values: dict[str, Any], stored: Any) -> Any:
        return webhooks.save_webhook_source(actor, values, source=stored)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ConnectionAdmin):
    list_display = ("name", "desk", "url", "events", "is_active")
    list_filter = ("desk", "is_active")
    list_select_related = ("desk",)

    service_fields = outbound.SUBSCRIPTION_FIELDS

    def save_with(self, actor: Any, values: dict[str, Any], stored: Any) -> Any:
        return outbound.save_subscription(actor, values, subscription=stored)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "subscription", "event", "ticket", "status", "attempts", "response_status",
                    "next_attempt_at")
    list_filter = ("status", "event")  # not by subscription: a filter lists its choices unrestricted
    list_select_related = ("subscription", "ticket")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["redeliver"]

    @admin.action(description="Send the selected deliveries again")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = 0
        for row in queryset:
            try:
                outbound.redeliver(request.user, row)
                count += 1
            except (NotAllowed, NotFound) as exc:
                self.message_user(request, f"delivery {row.pk}: {exc.message}", messages.WARNING)
        if count:
            self.message_user(request, f"{count} delivery(ies) queued again", messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {name: value for name, value in admin.ModelAdmin.get_actions(self, request).items()
                if name == "redeliver"}
