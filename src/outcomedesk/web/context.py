"""Template context shared by every page: the role-dependent navigation of the top bar."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from outcomedesk.accounts import policy


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Whether the top bar shows the agent workspace, the search box and the admin link."""
    user = getattr(request, "user", None)
    return {
        "nav_is_agent": policy.can(user, policy.VIEW, policy.Capability.WORKSPACE),
        "nav_is_admin": policy.can(user, policy.ADMINISTER, policy.Capability.ADMIN_SITE),
        "nav_insights": policy.can(user, policy.VIEW, policy.Capability.INSIGHTS),
    }
