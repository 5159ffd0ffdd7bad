"""Template context shared by every page: the role-dependent navigation of the top bar."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from outcomedesk.accounts.queries import access_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Whether the top bar shows the agent workspace, the search box and the admin link."""
    user = getattr(request, "user", None)
    access = access_for(user)
    return {
        "nav_is_agent": access.is_agent or access.is_admin,
        "nav_is_admin": bool(getattr(user, "is_superuser", False)),
        "nav_insights": access.is_agent or access.is_admin or bool(getattr(user, "is_executive", False)),
    }
