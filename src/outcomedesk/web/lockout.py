"""The answer to a login refused by the lockout (AXES_LOCKOUT_CALLABLE): a page, or JSON under /api/."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from outcomedesk.accounts.lockout import lockout_message


def locked_out(request: HttpRequest, original_response: HttpResponse | None = None,
               credentials: dict[str, Any] | None = None) -> HttpResponse:
    message = lockout_message()
    if request.path.startswith("/api/"):
        # Only bearer tokens are counted under /api/ (the API has no password login): the same shape as api/api.py.
        return JsonResponse({"detail": f"Authorization: {message}",
                             "errors": [{"field": "Authorization", "message": message}]}, status=429)
    return render(request, "web/locked_out.html", {"message": message}, status=429)
