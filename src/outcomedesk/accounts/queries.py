"""Reads about people and desks that other apps use (roles, desk access)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outcomedesk.accounts.models import DeskMembership, DeskRole, User


@dataclass(frozen=True)
class Access:
    """What a person may see and do, computed once per request."""

    user_id: int | None
    agent_desk_ids: frozenset[int]
    manager_desk_ids: frozenset[int]
    is_service_manager: bool
    is_admin: bool

    @property
    def is_agent(self) -> bool:
        """Works tickets on at least one desk (an agent, desk manager) or oversees the service."""
        return bool(self.agent_desk_ids) or self.is_service_manager

    def works_on(self, desk_id: int) -> bool:
        return desk_id in self.agent_desk_ids

    def manages(self, desk_id: int) -> bool:
        return desk_id in self.manager_desk_ids


def access_for(user: Any) -> Access:
    """The access of `user`, cached on the user object for the request."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Access(None, frozenset(), frozenset(), False, False)
    cached: Access | None = getattr(user, "_outcomedesk_access", None)
    if cached is not None:
        return cached
    rows = list(DeskMembership.objects.filter(user_id=user.pk, desk__is_active=True).values_list("desk_id", "role"))
    access = Access(
        user_id=user.pk,
        agent_desk_ids=frozenset(desk for desk, _ in rows),
        manager_desk_ids=frozenset(desk for desk, role in rows if role == DeskRole.MANAGER),
        is_service_manager=bool(user.is_service_manager),
        is_admin=bool(user.is_superuser),
    )
    user._outcomedesk_access = access
    return access


def agents_of_desk(desk_id: int) -> Any:
    return User.objects.filter(desk_memberships__desk_id=desk_id, is_active=True).distinct()
