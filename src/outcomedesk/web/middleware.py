"""HTML pages answer a service's NotAllowed with 403 and NotFound with 404, in one place.

The API has its own JSON handlers (api/api.py); its errors never reach this middleware.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse

from outcomedesk.core.errors import NotAllowed, NotFound


class ServiceErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotAllowed):
            return response_for_exception(request, PermissionDenied(exception.message))
        if isinstance(exception, NotFound):
            return response_for_exception(request, Http404(exception.message))
        return None
