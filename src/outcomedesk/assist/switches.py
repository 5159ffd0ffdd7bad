"""The kill switch of each AI feature: a platform admin turns a feature off at once, for every process.

OUTCOMEDESK_ASSIST_DISABLED (a comma-separated list of features, or "all") turns features off from the
environment, whatever the database says: the switch of last resort when the database cannot be trusted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.assist.models import Feature, Switch
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.core.models import Channel


def disabled_by_environment() -> frozenset[str]:
    names = {n.strip().lower() for n in getattr(settings, "OUTCOMEDESK_ASSIST_DISABLED", []) if n.strip()}
    return frozenset(Feature.values) if "all" in names else frozenset(names)


def is_enabled(feature: str) -> bool:
    if feature in disabled_by_environment():
        return False
    row = Switch.objects.filter(feature=feature).values_list("enabled", flat=True).first()
    return True if row is None else bool(row)


def states() -> dict[str, dict[str, object]]:
    """Every feature: on or off, and why."""
    rows = {s.feature: s for s in Switch.objects.select_related("changed_by")}
    env = disabled_by_environment()
    found: dict[str, dict[str, object]] = {}
    for feature in Feature.values:
        row = rows.get(feature)
        found[feature] = {
            "enabled": feature not in env and (row is None or row.enabled),
            "by_environment": feature in env,
            "reason": row.reason if row else "",
            "changed_by": row.changed_by.username if row and row.changed_by else None,
            "changed_at": row.changed_at if row else None,
        }
    return found


def set_switch(actor: policy.Actor, feature: str, enabled: bool, reason: str = "",
               channel: str = Channel.ADMIN) -> Switch:
    """Turn one feature on or off; platform admins (and the operator at the command line) only."""
    if not policy.can(actor, policy.ADMINISTER, policy.Capability.ASSIST_SWITCHES):
        raise NotAllowed("only a platform admin may turn AI features on or off")
    if feature not in Feature.values:
        raise InvalidInput({"feature": f"must be one of {', '.join(Feature.values)}, not {feature!r}"})
    now = clock.now()
    with transaction.atomic():
        switch, _ = Switch.objects.update_or_create(
            feature=feature,
            defaults={"enabled": enabled, "reason": reason.strip()[:300], "changed_by": policy.person(actor),
                      "changed_at": now},
        )
        audit = AuditBatch("assist_switch", 0, policy.actor_id(actor), channel, now)
        audit.add("switched", feature, None, "on" if enabled else "off")
        audit.save()
    return switch
