"""Outgoing e-mail in the admin: the outbox with its retry and cancel actions, and the desks' templates, each
written through `mail.services` (a template form is checked by the service before it is saved)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from outcomedesk.core.admin import ReadOnlyAdmin
from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
from outcomedesk.mail import composing, services
from outcomedesk.mail.models import MailTemplate, OutgoingMail


@admin.register(OutgoingMail)
class OutgoingMailAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "desk", "ticket_number", "to", "subject", "state", "attempts",
                    "next_attempt_at", "last_error")
    list_filter = ("state", "kind", "desk")
    list_select_related = ("desk",)
    search_fields = ("to", "subject", "ticket_number", "message_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OutgoingMail._meta.fields]
    actions = ["retry", "cancel"]

    @admin.action(description="Send the selected e-mails again (failed or cancelled ones)")
    def retry(self, request: HttpRequest, queryset: QuerySet[OutgoingMail]) -> None:
        self._each(request, queryset, services.retry, "queued again")

    @admin.action(description="Cancel the selected e-mails that have not gone out")
    def cancel(self, request: HttpRequest, queryset: QuerySet[OutgoingMail]) -> None:
        self._each(request, queryset, services.cancel, "cancelled")

    def _each(self, request: HttpRequest, queryset: QuerySet[OutgoingMail], action: Any, done: str) -> None:
        count = 0
        for row in queryset:
            try:
                action(request.user, row.pk)
                count += 1
            except (InvalidInput, NotAllowed, NotFound) as exc:
                self.message_user(request, f"e-mail {row.pk}: {exc.message}", messages.WARNING)
        if count:
            self.message_user(request, f"{count} e-mail(s) {done}", messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # ReadOnlyAdmin denies changes; these two actions go through the services, which check the policy.
        return {name: value for name, value in admin.ModelAdmin.get_actions(self, request).items()
                if name in ("retry", "cancel")}


class TemplateForm(forms.ModelForm):
    class Meta:
        model = MailTemplate
        fields = ("desk", "kind", "subject", "body")
        help_texts = {"body": "Placeholders: " + ", ".join(
            f"{{{{ {group}.{name} }}}}" for group, values in composing.SAMPLE.items() if isinstance(values, dict)
            for name in values)}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        errors = composing.check(str(cleaned.get("subject") or ""), str(cleaned.get("body") or ""))
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned


@admin.register(MailTemplate)
class MailTemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    list_display = ("kind", "desk", "subject", "updated_at", "updated_by")
    list_filter = ("kind", "desk")
    list_select_related = ("desk", "updated_by")

    def save_model(self, request: HttpRequest, obj: MailTemplate, form: Any, change: bool) -> None:
        values = {"desk": form.cleaned_data.get("desk"), "kind": form.cleaned_data["kind"],
                  "subject": form.cleaned_data["subject"], "body": form.cleaned_data["body"]}
        if change:
            stored = MailTemplate.objects.get(pk=obj.pk)
            if (stored.desk_id, stored.kind) != (getattr(values["desk"], "pk", None), values["kind"]):
                services.delete_template(request.user, stored)
        obj.pk = services.save_template(request.user, values).pk

    def delete_model(self, request: HttpRequest, obj: MailTemplate) -> None:
        services.delete_template(request.user, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MailTemplate]) -> None:
        for row in queryset:
            services.delete_template(request.user, row)
