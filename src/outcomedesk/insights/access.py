"""Who sees figures: desk staff (agents, desk managers), service managers, executives and admins."""

from __future__ import annotations

from typing import Any

from outcomedesk.accounts.queries import access_for


def can_see_insights(user: Any) -> bool:
    access = access_for(user)
    if access.user_id is None:
        return False
    return access.is_agent or access.is_admin or bool(getattr(user, "is_executive", False))
