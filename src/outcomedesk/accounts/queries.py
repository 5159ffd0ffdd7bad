"""Reads of accounts that other apps use."""

from __future__ import annotations

import copy

from outcomedesk.accounts.models import Desk
from outcomedesk.core.config_cache import ConfigCache


def _active_desks() -> tuple[dict[int, Desk], dict[str, Desk]]:
    desks = list(Desk.objects.filter(is_active=True))
    return {d.pk: d for d in desks}, {d.slug: d for d in desks}


# A handful of rows, read by every ticket opened: kept per process until a desk changes (core.config_cache).
ACTIVE_DESKS = ConfigCache("desks", _active_desks, [Desk])


def active_desk(*, pk: int | None = None, slug: str | None = None) -> Desk | None:
    """The active desk with this id or slug (a copy of the process's: the caller may change it), or None."""
    by_pk, by_slug = ACTIVE_DESKS.get()
    found = by_pk.get(pk) if pk is not None else by_slug.get(slug or "")
    return copy.copy(found) if found is not None else None
