"""Who am I, desks, their categories and groups."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import AssignmentGroup, Desk

router = Router(tags=["people and desks"])


class MeOut(Schema):
    id: int
    username: str
    name: str
    email: str
    is_agent: bool
    is_service_manager: bool
    is_admin: bool
    desks: list[str]


class DeskOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    confidential: bool
    reopen_window_days: int


class GroupOut(Schema):
    id: int
    name: str
    desk: str
    assignment_method: str

    @staticmethod
    def resolve_desk(obj: AssignmentGroup) -> str:
        return obj.desk.slug


@router.get("/me", response=MeOut)
def me(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    roles = policy.roles(user)
    return {
        "id": user.pk, "username": user.username, "name": str(user), "email": user.email,
        "is_agent": roles.agent, "is_service_manager": roles.service_manager, "is_admin": roles.admin,
        "desks": sorted(Desk.objects.filter(pk__in=policy.desk_ids(user, policy.WORK)).values_list("slug", flat=True)),
    }


@router.get("/desks", response=list[DeskOut])
def desks(request: HttpRequest) -> Any:
    return Desk.objects.filter(is_active=True)


@router.get("/groups", response=list[GroupOut], summary="Assignment groups of the desks you work on")
def groups(request: HttpRequest, desk: str = "") -> Any:
    mine = policy.desk_ids(request.user, policy.WORK)
    qs = AssignmentGroup.objects.filter(is_active=True, desk_id__in=mine).select_related("desk")
    return qs.filter(desk__slug=desk) if desk else qs
