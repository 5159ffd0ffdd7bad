"""Service levels in the Django admin: calendars, policies with their targets and escalation rules are saved
through sla.services (so the admin applies the same checks as the API and the CLI); the targets of tickets and
the escalations that fired are read-only, and a confidential desk's stay with that desk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from outcomedesk.accounts import policy as policy_module
from outcomedesk.core.admin import ReadOnlyAdmin
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.core.parsing import as_int, is_digits
from outcomedesk.sla import services
from outcomedesk.sla.calendar import CalendarError, calendar_from_json
from outcomedesk.sla.models import (
    BusinessCalendar,
    EscalationFiring,
    EscalationRule,
    PolicyTarget,
    SlaPolicy,
    TicketTarget,
)


class _DryRun(Exception):
    """Raised to roll back a service call made only to learn what it would refuse."""


def refusals(call: Callable[[], object]) -> dict[str, str]:
    """What a service would refuse, by field, without keeping anything it writes.

    The admin validates a form before it saves, and the services validate while they save; running the service
    in a transaction that is always rolled back lets the form show the service's own messages beside the
    fields, without a second copy of the rules here."""
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        return {}
    except InvalidInput as exc:
        return exc.errors
    except NotAllowed as exc:
        return {"__all__": exc.message}


def _show(form: forms.BaseForm, errors: dict[str, str], prefix: str = "") -> None:
    """Put each refusal beside its field, the others (and the nested ones) at the top of the form."""
    for name, message in errors.items():
        field = name.removeprefix(prefix) if prefix else name
        if field in form.fields:
            form.add_error(field, message)
        else:
            form.add_error(None, f"{name}: {message}" if name != "__all__" else message)


class ServiceLevelAdmin(admin.ModelAdmin):
    """Only service managers and admins change service levels (the services check it again)."""

    def _may_change(self, request: HttpRequest) -> bool:
        return policy_module.can(request.user, policy_module.ADMINISTER, policy_module.Capability.SERVICE_LEVELS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may_change(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request) and super().has_delete_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # The forms' dry runs check what this person may do.
        return type(form.__name__, (form,), {"actor": request.user})


# --- calendars ---------------------------------------------------------------------------------------------

class CalendarForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = BusinessCalendar
        fields = ("name", "definition")

    def clean_definition(self) -> Any:
        definition = self.cleaned_data.get("definition")
        try:
            calendar_from_json(definition)
        except CalendarError as exc:
            raise forms.ValidationError(f"{exc.field}: {exc.message}") from None
        return definition


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(ServiceLevelAdmin):
    form = CalendarForm
    list_display = ("name", "timezone", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("updated_at",)

    @admin.display(description="Time zone")
    def timezone(self, obj: BusinessCalendar) -> str:
        return str((obj.definition or {}).get("timezone", "UTC"))

    def save_model(self, request: HttpRequest, obj: BusinessCalendar, form: Any, change: bool) -> None:
        services.save_calendar(request.user, obj.name, obj.definition, calendar=obj)  # type: ignore[arg-type]
        if change:
            # Running deadlines follow the fix; at scale this is long, so it is queued.
            tasks = services.schedule_recompute(calendar=obj)
            self.message_user(request, f"Queued {tasks:,} recompute task(s) for the running targets on it.",
                              messages.INFO)


# --- policies and their targets ----------------------------------------------------------------------------

POLICY_FORM_FIELDS = list(services.POLICY_FIELDS)


class PolicyForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = SlaPolicy
        fields = POLICY_FORM_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        values = {name: cleaned[name] for name in POLICY_FORM_FIELDS if name in cleaned}
        # A fresh copy: the dry run must not leave a primary key or changed fields on the form's instance.
        current = SlaPolicy.objects.get(pk=self.instance.pk) if self.instance.pk else None
        _show(self, refusals(lambda: services.save_policy(self.actor, values, policy=current)))
        return cleaned


def _kept_targets(formset: BaseInlineFormSet) -> list[tuple[forms.BaseForm, dict[str, Any]]]:
    kept: list[tuple[forms.BaseForm, dict[str, Any]]] = []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None)
        if not data or data.get("DELETE") or not data.get("metric"):
            continue
        kept.append((form, {"metric": data["metric"], "priority": data.get("priority"),
                            "minutes": data.get("minutes")}))
    return kept


class PolicyTargetFormSet(BaseInlineFormSet):
    """Checks the targets as the service will, against the policy as the form above left it (its kind)."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = _kept_targets(self)
        policy = self.instance  # with the values of the policy form applied
        values = {name: getattr(policy, name) for name in POLICY_FORM_FIELDS}
        current = SlaPolicy.objects.get(pk=policy.pk) if policy.pk else None
        # As the operator: who may change the policy is the policy form's concern; here only the targets count.
        errors = refusals(lambda: services.save_policy(policy_module.OPERATOR, values, targets=[t for _, t in kept],
                                                       policy=current))
        for name, message in errors.items():
            if not name.startswith("targets"):
                continue  # the policy form shows those
            # "targets[2].minutes" belongs beside the minutes of the third target kept.
            head, _, field = name.partition(".")
            index = head.removeprefix("targets[").removesuffix("]")
            position = as_int(index, minimum=0, maximum=len(kept) - 1)
            if position is not None and is_digits(index):
                form = kept[position][0]
                form.add_error(field if field in form.fields else None, message)
            else:
                raise forms.ValidationError(f"{name}: {message}")


class PolicyTargetInline(admin.TabularInline):
    model = PolicyTarget
    formset = PolicyTargetFormSet
    extra = 1


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ServiceLevelAdmin):
    form = PolicyForm
    inlines = [PolicyTargetInline]
    list_display = ("name", "kind", "order", "desk", "service", "calendar", "is_active")
    list_filter = ("kind", "is_active", "desk")
    list_editable = ()
    search_fields = ("name",)
    list_select_related = ("desk", "service", "calendar")
    readonly_fields = ("updated_at",)

    def save_model(self, request: HttpRequest, obj: SlaPolicy, form: Any, change: bool) -> None:
        # Saved with its targets in save_related: the policy and its targets are one service call.
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in POLICY_FORM_FIELDS if name in form.cleaned_data}
        targets = None
        for formset in formsets:
            if isinstance(formset, PolicyTargetFormSet):
                targets = [t for _, t in _kept_targets(formset)]
        services.save_policy(request.user, values, targets=targets, policy=form.instance)  # type: ignore[arg-type]
        for formset in formsets:
            # The admin's change message reads what formset.save() would have recorded; the service saved instead.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if change:
            self.message_user(
                request, "Tickets already under this policy keep their targets until they change or you run "
                "`outcomedesk sla repair --policy` (or POST /api/v1/sla/policies/{id}/repair).", messages.INFO)


# --- escalation rules --------------------------------------------------------------------------------------

RULE_FIELDS = ["name", "policy", "metric", "at_percent", "action", "reassign_to", "business_hours_only", "is_active"]


class RuleForm(forms.ModelForm):
    actor: Any = None

    class Meta:
        model = EscalationRule
        fields = RULE_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        values = {name: cleaned.get(name) for name in RULE_FIELDS}
        current = EscalationRule.objects.get(pk=self.instance.pk) if self.instance.pk else None
        _show(self, refusals(lambda: services.save_escalation_rule(self.actor, values, rule=current)))
        return cleaned


@admin.register(EscalationRule)
class EscalationRuleAdmin(ServiceLevelAdmin):
    form = RuleForm
    list_display = ("name", "policy", "metric", "at_percent", "action", "business_hours_only", "is_active")
    list_filter = ("action", "is_active", "policy")
    list_select_related = ("policy",)

    def save_model(self, request: HttpRequest, obj: EscalationRule, form: Any, change: bool) -> None:
        values = {name: form.cleaned_data.get(name) for name in RULE_FIELDS}
        services.save_escalation_rule(request.user, values, rule=obj)  # type: ignore[arg-type]


# --- read-only: what the engine computed -------------------------------------------------------------------

# Computed by the engine from each ticket's history; change the ticket or the policy instead.


@admin.register(TicketTarget)
class TicketTargetAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "metric", "cycle", "state", "deadline", "policy", "is_active")
    list_filter = ("state", "metric", "is_active")
    search_fields = ("ticket__number",)
    list_select_related = ("ticket", "policy")
    show_full_result_count = False


@admin.register(EscalationFiring)
class EscalationFiringAdmin(ReadOnlyAdmin):
    list_display = ("rule", "target", "fired_at", "due_at", "notify_after", "notified_at", "worker")
    list_filter = ("rule",)
    list_select_related = ("rule", "target__ticket")
    show_full_result_count = False
