"""Every answer under /api/ that is an error is JSON in the one shape the API documents:
`{"detail": "...", "errors": [{"field": ..., "message": ...}]}`, whoever produced it.

The API's own handlers (api/api.py) answer the errors its code raises. This middleware answers the rest:
a body larger than Django accepts (413), a path no route matches (404), a method a route does not take
(405), and any exception nobody expected (500, logged with a reference id that the JSON gives).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

log = logging.getLogger("outcomedesk.api")

MESSAGES = {
    400: "the request is not valid",
    401: "log in or send a valid bearer token",
    403: "you may not do this",
    404: "no such API path or object",
    405: "this path does not take that method",
    406: "the API answers JSON only",
    413: "the request body is too large",
    415: "send the body as JSON (Content-Type: application/json) or as a form",
    429: "too many requests; try again later",
}


def is_api(request: HttpRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def error_body(errors: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    detail = "; ".join(f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"]) for e in errors)
    return {"detail": detail, "errors": errors, **extra}


def json_error(status: int, message: str, *, field: str | None = None, **extra: Any) -> HttpResponse:
    body = error_body([{"field": field, "message": message}], **extra)
    return HttpResponse(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


def too_large(limit: int | None = None) -> HttpResponse:
    from django.conf import settings

    limit = limit if limit is not None else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return json_error(413, f"the request body is larger than {limit:,} bytes", field="body")


def unexpected(request: HttpRequest, exc: BaseException | None) -> HttpResponse:
    """500: log the exception with a reference id and give the id, never the traceback."""
    reference = uuid.uuid4().hex[:12]
    log.error("unexpected error %s on %s %s", reference, request.method, request.path,
              exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None)
    return json_error(500, f"unexpected error; quote reference {reference} to the administrators",
                      reference=reference)


def for_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The JSON answer for an exception that reached Django rather than an API handler."""
    if isinstance(exc, RequestDataTooBig):
        return too_large()
    if isinstance(exc, MultiPartParserError):  # e.g. multipart/form-data without a boundary
        return json_error(400, f"the multipart body cannot be read: {exc}", field="body")
    if isinstance(exc, SuspiciousOperation):
        return json_error(400, str(exc) or MESSAGES[400])
    if isinstance(exc, PermissionDenied):
        return json_error(403, str(exc) or MESSAGES[403])
    if isinstance(exc, Http404):
        return json_error(404, MESSAGES[404])
    return unexpected(request, exc)


class ApiErrorMiddleware:
    """JSON errors under /api/ for what the API's own handlers never see."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api(request) or response.status_code < 400:
            return response
        if str(response.get("Content-Type", "")).startswith("application/json"):
            return response
        # Django's own answers (its 404 page, 405, a 400 for a suspicious request, a 500 page): same shape.
        status = response.status_code
        if status >= 500:
            answer = unexpected(request, None)
        else:
            answer = json_error(status, MESSAGES.get(status, "the request cannot be answered"))
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if response.has_header(header):
                answer[header] = response[header]
        return answer

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        return for_exception(request, exception)
