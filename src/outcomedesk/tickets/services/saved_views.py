"""Writing saved queue views: a person's own views, and the queues a desk manager shares with a desk."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.db import transaction

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.core.errors import InvalidInput, NotFound
from outcomedesk.core.parsing import as_id
from outcomedesk.tickets.filters import TicketFilter
from outcomedesk.tickets.models import SavedView

NAME_MAX = 100
QUERY_MAX = 500
# Parameters that describe a position in the list rather than the filter itself.
NOT_SAVED = {"page", "view"}


def clean_query(query: str) -> str:
    """The filter part of a query string, without the page number."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?"), keep_blank_values=False) if k not in NOT_SAVED]
    return urlencode(pairs)


def save_view(actor: User, *, name: str, query: str, desk: Desk | int | str | None = None) -> SavedView:
    """Save the current queue filter under `name`: personal, or a queue of `desk` (its managers only)."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "is required"
    elif len(name) > NAME_MAX:
        errors["name"] = f"is {len(name)} characters long; at most {NAME_MAX}"
    query = clean_query(query or "")
    if len(query) > QUERY_MAX:
        errors["query"] = f"the filter is longer than {QUERY_MAX} characters"
    else:
        try:
            TicketFilter.from_params(dict(parse_qsl(query)))
        except InvalidInput as exc:
            errors["query"] = f"the filter is not valid ({exc.message})"
    desk_obj: Desk | None = None
    if desk not in (None, ""):
        if isinstance(desk, Desk):
            desk_obj = desk
        elif (desk_id := as_id(str(desk))) is not None:
            desk_obj = Desk.objects.filter(pk=desk_id).first()
        if desk_obj is None:
            errors["desk"] = f"no desk {desk!r}"
        elif not policy.can(actor, policy.MANAGE, desk_obj):
            errors["desk"] = f"only managers of the {desk_obj.name} desk may share queues with it"
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        if desk_obj is not None:
            view, _ = SavedView.objects.update_or_create(
                desk=desk_obj, owner=None, name=name, defaults={"query": query}
            )
        else:
            view, _ = SavedView.objects.update_or_create(
                owner=actor, desk=None, name=name, defaults={"query": query}
            )
    return view


def delete_view(actor: User, view_id: int) -> None:
    """Remove a personal view, or a desk queue when the actor manages that desk."""
    view = SavedView.objects.filter(pk=view_id).first()
    if view is None:
        raise NotFound(f"no saved view {view_id}")
    if not policy.can(actor, policy.MANAGE, view):
        raise NotFound(f"no saved view {view_id}")
    view.delete()
