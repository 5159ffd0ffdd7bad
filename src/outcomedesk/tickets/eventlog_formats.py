"""The event log formats `outcomedesk import events --format NAME` reads: one mapping per tool."""

from __future__ import annotations

from outcomedesk.core.models import Channel
from outcomedesk.tickets.eventlog import Column, EventFormat
from outcomedesk.tickets.models import PendingReason, State

_NEW, _IN_PROGRESS, _ASSIGNED = State.NEW.value, State.IN_PROGRESS.value, State.ASSIGNED.value
_PENDING, _RESOLVED, _CLOSED, _CANCELLED = (State.PENDING.value, State.RESOLVED.value, State.CLOSED.value,
                                            State.CANCELLED.value)
_REQUESTER, _VENDOR = PendingReason.REQUESTER.value, PendingReason.VENDOR.value
_PROBLEM, _CHANGE = PendingReason.PROBLEM.value, PendingReason.CHANGE.value

# UCI "Incident management process enriched event log", exported from a ServiceNow instance.
SERVICENOW = EventFormat(
    name="servicenow",
    label="ServiceNow incident event log",
    record="number",
    time="sys_updated_at",
    time_format="%d/%m/%Y %H:%M",
    sequence="sys_mod_count",
    state_columns=("incident_state",),
    states={
        ("New",): (_NEW, ""),
        ("Active",): (_IN_PROGRESS, ""),
        ("Awaiting User Info",): (_PENDING, _REQUESTER),
        ("Awaiting Evidence",): (_PENDING, _REQUESTER),
        ("Awaiting Vendor",): (_PENDING, _VENDOR),
        ("Awaiting Problem",): (_PENDING, _PROBLEM),
        ("Resolved",): (_RESOLVED, ""),
        ("Closed",): (_CLOSED, ""),
    },
    group="assignment_group",
    fields={
        "opened_at": Column("opened_at", "time"),
        "resolved_at": Column("resolved_at", "time"),
        "closed_at": Column("closed_at", "time"),
        "impact": Column("impact", "level"),
        "urgency": Column("urgency", "level"),
        "priority": Column("priority", "level"),
        "reassignment_count": Column("reassignment_count", "int"),
        "reopen_count": Column("reopen_count", "int"),
        "imported_sla_met": Column("made_sla", "bool"),
        "requester": Column("caller_id"),
        "assignee": Column("assigned_to"),
        "category": Column("category"),
        "channel": Column("contact_type", values={
            "Phone": Channel.PHONE, "IVR": Channel.PHONE, "Email": Channel.EMAIL, "Self service": Channel.PORTAL,
            "Direct opening": Channel.WEB,
        }, default=Channel.IMPORT),
    },
    title="{record}: {category} / {subcategory}",
    describe=("category", "subcategory", "u_symptom", "location", "cmdb_ci", "problem_id", "rfc", "caused_by",
              "vendor", "closed_code"),
)

# BPI Challenge 2013, Volvo IT incidents (IBM's reshaped columns): status and sub-status per event.
BPIC2013 = EventFormat(
    name="bpic2013",
    label="BPI Challenge 2013 incident log",
    record="SR Number",
    time="Change Date+Time",
    state_columns=("Status", "Sub Status"),
    states={
        ("Queued", "Awaiting Assignment"): (_NEW, ""),
        ("Accepted", "Assigned"): (_ASSIGNED, ""),
        ("Accepted", "In Progress"): (_IN_PROGRESS, ""),
        ("Accepted", "Wait"): (_PENDING, _REQUESTER),
        ("Accepted", "Wait - User"): (_PENDING, _REQUESTER),
        ("Accepted", "Wait - Customer"): (_PENDING, _REQUESTER),
        ("Accepted", "Wait - Vendor"): (_PENDING, _VENDOR),
        ("Accepted", "Wait - Implementation"): (_PENDING, _CHANGE),
        ("Completed", "In Call"): (_RESOLVED, ""),
        ("Completed", "Resolved"): (_RESOLVED, ""),
        ("Completed", "Closed"): (_CLOSED, ""),
        ("Completed", "Cancelled"): (_CANCELLED, ""),
    },
    group="Involved ST",
    fields={
        "impact": Column("SR Latest Impact", values={"Major": 1, "High": 1, "Medium": 2, "Low": 3}),
        "priority": Column("SR Latest Impact", values={"Major": 1, "High": 2, "Medium": 3, "Low": 4}),
        "assignee": Column("Resource"),
        "category": Column("Product"),
    },
    title="{record}: {Product}",
    describe=("Product", "Involved Org line 3", "Country", "ST Level"),
)

FORMATS: dict[str, EventFormat] = {f.name: f for f in (SERVICENOW, BPIC2013)}
