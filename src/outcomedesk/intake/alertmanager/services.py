"""Alertmanager's webhook (version 4) into incidents: one incident per alert group (Alertmanager's groupKey, from
its group labels), each alert (by fingerprint and start) recorded once and counted when it repeats; a new alert of
an open group is a note on its incident, a resolved one too, and when the source says so the incident is resolved
once every alert of it has cleared. The integration account of the source acts, through `tickets.services`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from outcomedesk.accounts.models import User
from outcomedesk.cmdb.models import BusinessService
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotAllowed
from outcomedesk.core.models import Channel
from outcomedesk.intake import configuration
from outcomedesk.intake.models import Alert, AlertSource
from outcomedesk.tickets import services as tickets
from outcomedesk.tickets.models import DONE_STATES, State, Ticket, TicketType

# Severity label -> (impact, urgency): the usual Prometheus severities.
SEVERITY = {"critical": (1, 1), "page": (1, 1), "error": (2, 1), "high": (2, 2), "warning": (2, 2), "major": (2, 2),
            "minor": (3, 2), "info": (3, 3), "low": (3, 3), "none": (3, 3)}


_FRACTION = re.compile(r"(\.[0-9]+)")


@dataclass
class Outcome:
    """What one notification did, by alert."""

    opened: list[str] = field(default_factory=list)  # incident numbers
    added: int = 0  # new alerts on an open incident
    repeated: int = 0  # alerts seen before (Alertmanager's repeat_interval)
    resolved: int = 0  # alerts that cleared
    ignored: int = 0  # resolved alerts never seen firing
    incidents_resolved: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Notice:
    """One alert of the payload, checked."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str


def source_of(account: Any) -> AlertSource:
    source = AlertSource.objects.select_related("desk").filter(account_id=getattr(account, "pk", None),
                                                               is_active=True).first()
    if source is None:
        raise NotAllowed("only the integration account of an active alert source may send alerts")
    return source


def receive_alerts(account: User, payload: dict[str, Any]) -> Outcome:
    """Apply one webhook notification of Alertmanager; all of it or none of it.

    A storm is absorbed in batches: the notification's known alerts are read in one query, repeats counted in one
    update, new alerts stored in one insert, and each incident gets one note for the alerts that joined it and one
    for those that cleared (naming the first `NOTE_NAMES` of them), whatever the number of alerts."""
    source = source_of(account)
    group_key = str(payload.get("groupKey") or "")[:500]
    notices = _check(payload)
    if not group_key:
        raise InvalidInput({"groupKey": "is required"})
    outcome = Outcome()
    now = clock.now()
    with transaction.atomic():
        # One notification of a source at a time: two of one group at once must not open two incidents.
        AlertSource.objects.select_for_update().filter(pk=source.pk).update(last_received_at=now)
        common = {**payload.get("commonLabels", {}), **{"externalURL": payload.get("externalURL", "")}}
        _apply(source, account, group_key, notices, common, now, outcome)
        _close_cleared(source, account, group_key, outcome)
    return outcome


NOTE_NAMES = 20  # alerts named in one note; the rest are counted


@dataclass
class _Batch:
    """What one notification does, gathered before it is written."""

    new: list[Alert] = field(default_factory=list)
    changed: list[Alert] = field(default_factory=list)
    joined: dict[int, list[str]] = field(default_factory=dict)  # ticket id -> alerts that joined it
    cleared: dict[int, list[str]] = field(default_factory=dict)  # ticket id -> alerts that cleared


def _apply(source: AlertSource, account: User, group_key: str, notices: list[Notice], common: dict[str, Any],
           now: datetime, outcome: Outcome) -> None:
    known = {(a.fingerprint, a.starts_at): a for a in Alert.objects.filter(
        source=source, fingerprint__in={n.fingerprint for n in notices})}
    batch = _Batch()
    incident: Ticket | None = None
    looked_up = False
    for notice in notices:
        row = known.get((notice.fingerprint, notice.starts_at))
        if row is not None:
            _again(row, notice, now, outcome, batch)
            continue
        if notice.status == "resolved":
            outcome.ignored += 1  # cleared before we heard it fire (or from before this source existed)
            continue
        if not looked_up:
            incident, looked_up = _open_incident(source, group_key), True
        name = notice.labels.get("alertname", "alert")[:200]
        if incident is None:
            incident = _open(source, account, notice, common)
            outcome.opened.append(incident.number)
        else:
            outcome.added += 1
            batch.joined.setdefault(incident.pk, []).append(f"{name} ({_label_text(notice.labels)})")
        row = Alert(source=source, group_key=group_key, fingerprint=notice.fingerprint, ticket=incident, name=name,
                    labels=notice.labels, status=notice.status, starts_at=notice.starts_at, ends_at=None,
                    first_received_at=now, last_received_at=now)
        known[(notice.fingerprint, notice.starts_at)] = row
        batch.new.append(row)
    Alert.objects.bulk_create(batch.new)
    Alert.objects.bulk_update([row for row in batch.changed if row.pk], ["received", "last_received_at", "status",
                                                                        "ends_at"])
    _write_notes(account, batch)


def _again(row: Alert, notice: Notice, now: datetime, outcome: Outcome, batch: _Batch) -> None:
    """An alert heard before: counted, or cleared."""
    row.received += 1
    row.last_received_at = now
    if notice.status == "resolved" and row.status != "resolved":
        row.status, row.ends_at = "resolved", notice.ends_at or now
        outcome.resolved += 1
        batch.cleared.setdefault(row.ticket_id, []).append(
            f"{row.name} ({_label_text(notice.labels)}) at {row.ends_at:%Y-%m-%d %H:%M:%S %Z}")
    else:
        outcome.repeated += 1
    if row.pk and row not in batch.changed:
        batch.changed.append(row)


def _open_incident(source: AlertSource, group_key: str) -> Ticket | None:
    return (Ticket.objects.filter(pk__in=Alert.objects.filter(source=source, group_key=group_key)
                                  .values("ticket_id")).exclude(state__in=DONE_STATES)
            .order_by("-opened_at").first())


def _open(source: AlertSource, account: User, notice: Notice, common: dict[str, Any]) -> Ticket:
    impact, urgency = SEVERITY.get(notice.labels.get("severity", "").lower(), (3, 2))
    return tickets.open_ticket(
        account, desk=source.desk, type=TicketType.INCIDENT, title=_title(notice), impact=impact, urgency=urgency,
        description=_description(notice, common), channel=Channel.MONITORING, service=_service(source, notice),
        door=Channel.MONITORING,
    )


def _listed(prefix: str, names: list[str]) -> str:
    shown = names[:NOTE_NAMES]
    more = f"\n... and {len(names) - len(shown)} more." if len(names) > len(shown) else ""
    if len(names) == 1:
        return f"{prefix}: {names[0]}."
    return f"{prefix} ({len(names)}):\n" + "\n".join(f"- {name}" for name in shown) + more


def _write_notes(account: User, batch: _Batch) -> None:
    ids = set(batch.joined) | set(batch.cleared)
    if not ids:
        return
    for ticket in Ticket.objects.filter(pk__in=ids).order_by("pk"):
        if ticket.pk in batch.joined:
            _note(account, ticket, _listed("Also firing", batch.joined[ticket.pk]))
        if ticket.pk in batch.cleared:
            _note(account, ticket, _listed("Cleared", batch.cleared[ticket.pk]))


def _close_cleared(source: AlertSource, account: User, group_key: str, outcome: Outcome) -> None:
    if not source.resolve_when_cleared:
        return
    open_ids = (Alert.objects.filter(source=source, group_key=group_key)
                .exclude(ticket__state__in=DONE_STATES).values_list("ticket_id", flat=True).distinct())
    for ticket_id in list(open_ids):
        firing = Alert.objects.filter(ticket_id=ticket_id).filter(~Q(status="resolved")).exists()
        if firing:
            continue
        ticket = Ticket.objects.get(pk=ticket_id)
        if ticket.state == State.PENDING or ticket.state in DONE_STATES:
            continue
        tickets.change_state(account, ticket, State.RESOLVED, resolution_code="cleared",
                             resolution_notes="Every alert of this incident cleared in Alertmanager.",
                             channel=Channel.MONITORING)
        outcome.incidents_resolved.append(ticket.number)


def _note(account: User, ticket: Ticket, text: str) -> None:
    if ticket.state in (State.CLOSED, State.CANCELLED):
        return
    tickets.add_comment(account, ticket, text.strip(), public=False, channel=Channel.MONITORING)


def _title(notice: Notice) -> str:
    name = notice.labels.get("alertname", "Alert")
    summary = notice.annotations.get("summary", "").strip()
    where = notice.labels.get("instance") or notice.labels.get("job") or ""
    title = f"{name}: {summary}" if summary else f"{name} on {where}" if where else name
    return title[:200]


def _description(notice: Notice, common: dict[str, Any]) -> str:
    lines = [notice.annotations.get("description", "").strip() or notice.annotations.get("summary", "").strip()]
    lines += ["", "Labels:"] + [f"  {k}: {v}" for k, v in sorted(notice.labels.items())]
    if notice.generator_url:
        lines += ["", f"Source: {notice.generator_url}"]
    if common.get("externalURL"):
        lines += [f"Alertmanager: {common['externalURL']}"]
    return "\n".join(lines).strip()[:10_000]


def _service(source: AlertSource, notice: Notice) -> int | None:
    value = notice.labels.get(source.service_label, "").strip()
    if not value:
        return None
    found = BusinessService.objects.filter(Q(slug=value) | Q(name__iexact=value), is_active=True).values_list(
        "pk", flat=True).first()
    return found


def _label_text(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k != "alertname"}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))[:300]


def _check(payload: dict[str, Any]) -> list[Notice]:
    """The alerts of the payload, or InvalidInput naming the bad field (alerts[N].field)."""
    errors: dict[str, str] = {}
    raw = payload.get("alerts")
    if not isinstance(raw, list) or not raw:
        raise InvalidInput({"alerts": "must be a non-empty list"})
    notices: list[Notice] = []
    for n, item in enumerate(raw):
        where = f"alerts[{n}]"
        if not isinstance(item, dict):
            errors[where] = "must be an object"
            continue
        status = item.get("status")
        if status not in ("firing", "resolved"):
            errors[f"{where}.status"] = f"must be firing or resolved, not {str(status)[:20]!r}"
        labels, annotations = item.get("labels"), item.get("annotations") or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            errors[f"{where}.labels"] = "must map names to strings"
            labels = {}
        if not isinstance(annotations, dict):
            errors[f"{where}.annotations"] = "must map names to strings"
            annotations = {}
        fingerprint = str(item.get("fingerprint") or "")
        if not fingerprint or len(fingerprint) > 64:
            errors[f"{where}.fingerprint"] = "is required (Alertmanager 0.19 or later sends it), at most 64 characters"
        starts_at = _instant(item.get("startsAt"))
        if starts_at is None:
            errors[f"{where}.startsAt"] = f"must be an RFC 3339 time, not {str(item.get('startsAt'))[:40]!r}"
        ends_at = _instant(item.get("endsAt"))
        if errors:
            continue
        assert starts_at is not None
        notices.append(Notice(fingerprint, str(status), {str(k): str(v) for k, v in labels.items()},
                              {str(k): str(v) for k, v in annotations.items()}, starts_at,
                              ends_at if ends_at and ends_at.year > 1 and status == "resolved" else None,
                              str(item.get("generatorURL") or "")[:500]))
    if errors:
        raise InvalidInput(errors)
    return notices


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Alertmanager writes up to nanoseconds; Python reads up to microseconds.
    text = _FRACTION.sub(lambda m: m.group(1)[:7], text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


SOURCE_FIELDS = ("name", "desk", "account", "service_label", "resolve_when_cleared", "is_active")


def save_alert_source(actor: Any, values: dict[str, Any], *, source: AlertSource | None = None) -> AlertSource:
    """Create or change an alert source (its desk's managers). Its account must be an agent of the desk: it opens
    and resolves the incidents, and its API token is what Alertmanager sends."""
    row = source or AlertSource()
    fields, desk = configuration.merged(actor, values, SOURCE_FIELDS, row, saved=source is not None,
                                        what="alert source")
    errors: dict[str, str] = {}
    account = configuration.integration_account(errors, fields["account"], desk)
    if account is not None and AlertSource.objects.filter(account=account).exclude(pk=row.pk).exists():
        errors["account"] = f"{account} is the account of another alert source"
    name = str(fields["name"] or "").strip()
    if not name:
        errors["name"] = "is required"
    elif AlertSource.objects.filter(name__iexact=name).exclude(pk=row.pk).exists():
        errors["name"] = f"another alert source is named {name!r}"
    label = str(fields["service_label"] or "service").strip()
    if errors or account is None:
        raise InvalidInput(errors)
    row.name, row.desk, row.account, row.service_label = name, desk, account, label
    row.resolve_when_cleared, row.is_active = bool(fields["resolve_when_cleared"]), bool(fields["is_active"])
    row.save()
    return row
