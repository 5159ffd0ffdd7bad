"""`outcomedesk check`: the directory group mapping names only desks that exist."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.db import DatabaseError


@register("outcomedesk")
def check_directory_mapping(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Each desk named by OUTCOMEDESK_DIRECTORY_GROUPS must exist (the grammar is checked when settings load)."""
    from outcomedesk.accounts.directory import mapping_problems
    from outcomedesk.accounts.models import Desk
    from outcomedesk.accounts.services import directory_mapping

    mapping = directory_mapping()
    if not mapping.desk_slugs():
        return []
    try:
        known = set(Desk.objects.filter(slug__in=mapping.desk_slugs()).values_list("slug", flat=True))
    except DatabaseError:  # no database yet (before `migrate`): nothing to compare with
        return []
    return [Error(problem, hint="Create the desk or correct the slug in the mapping.", id="outcomedesk.E101")
            for problem in mapping_problems(mapping, known)]
