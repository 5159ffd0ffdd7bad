"""The admin site, with the access policy on every page: only platform admins enter, and every list and object
of a model the policy has a rule for is restricted by it (a confidential desk's rows stay with its members)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from outcomedesk.accounts import policy


class PolicyRestricted:
    """Mixed into every registered ModelAdmin: rows pass through `policy.restrict`."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        return policy.restrict(rows, request.user) if policy.has_rule(rows.model) else rows


class PolicyAdminSite(admin.AdminSite):
    site_header = "Outcomedesk administration"
    site_title = "Outcomedesk"

    def has_permission(self, request: HttpRequest) -> bool:
        return policy.can(request.user, policy.ADMINISTER, policy.Capability.ADMIN_SITE)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        base = admin_class or admin.ModelAdmin
        restricted = type(base.__name__, (PolicyRestricted, base), {"__module__": base.__module__})
        super().register(model_or_iterable, restricted, **options)
