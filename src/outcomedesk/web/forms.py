"""Turning posted form data into the arguments of the ticket services.

Parsing only: the services validate and name the field of any value they reject.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, QueryDict

from outcomedesk.core.errors import InvalidInput
from outcomedesk.core.parsing import as_int
from outcomedesk.tickets.models import Ticket

EDIT_FIELDS = (
    "title", "group", "assignee", "category", "service", "impact", "urgency", "priority", "tags", "watchers",
)


def _id(value: int | None) -> str:
    return "" if value is None else str(value)


def split_tags(text: str) -> list[str]:
    return sorted({part.strip().lower() for part in text.split(",") if part.strip()})


def ticket_values(ticket: Ticket, tags: list[str], watchers: list[str]) -> dict[str, str]:
    """The edit form's values for a ticket as loaded, as the strings a form posts back."""
    return {
        "title": ticket.title,
        "group": _id(ticket.group_id),
        "assignee": _id(ticket.assignee_id),
        "category": _id(ticket.category_id),
        "service": _id(ticket.service_id),
        "impact": str(ticket.impact),
        "urgency": str(ticket.urgency),
        "priority": str(ticket.priority),
        "tags": ", ".join(tags),
        "watchers": ", ".join(watchers),
    }


def split_names(text: str) -> list[str]:
    return sorted({part.strip() for part in text.split(",") if part.strip()})


def edit_changes(data: QueryDict, ticket: Ticket, tags: list[str], watchers: list[str]) -> dict[str, Any]:
    """Only the fields the person changed, so that priority is recomputed when impact or urgency moves."""
    current = ticket_values(ticket, tags, watchers)
    changes: dict[str, Any] = {}
    for name in EDIT_FIELDS:
        if name not in data:
            continue
        value = str(data.get(name, "")).strip()
        if name == "tags":
            if split_tags(value) != split_tags(current["tags"]):
                changes["tags"] = split_tags(value)
        elif name == "watchers":
            if split_names(value) != split_names(current["watchers"]):
                changes["watchers"] = split_names(value)
        elif value != current[name]:
            changes[name] = value
    return changes


IMPACT_FIELDS = ("service", "impact_start", "impact_end", "users_affected", "impact_fraction", "note")


def impact_fields(data: QueryDict) -> dict[str, str]:
    """The business impact form as posted: strings, empty when not given (the service parses and checks them)."""
    return {name: posted(data, name) for name in IMPACT_FIELDS}


def expected_version(data: QueryDict) -> int:
    """The version the form was loaded at; without it a change could silently overwrite another."""
    raw = str(data.get("version", "")).strip()
    version = as_int(raw, minimum=0)
    if version is None:
        raise InvalidInput({"version": "the form has no version; reload the page and try again"})
    return version


def uploads(request: HttpRequest, name: str = "attachments") -> list[UploadedFile]:
    return list(request.FILES.getlist(name))


def posted(data: QueryDict, name: str) -> str:
    return str(data.get(name, "")).strip()
