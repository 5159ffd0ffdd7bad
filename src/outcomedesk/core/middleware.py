"""Refuse NUL characters in any request before anything reads it.

PostgreSQL's text columns cannot hold U+0000 (psycopg raises ValueError on such a parameter), so a NUL in a
path, a query, a form or a JSON body would end as HTTP 500 on PostgreSQL while SQLite stores it. No field of
the product means anything with it: the request is refused with 400 naming where it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

NUL = "\x00"


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def nul_field(request: HttpRequest) -> str | None:
    """Where the request carries a NUL character ("path", a parameter's name, "body"), or None."""
    if NUL in request.path:
        return "path"
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in v for v in values):
            return name.replace(NUL, "")
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        content_type = request.content_type or ""
        try:
            if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
                for name, values in request.POST.lists():
                    if NUL in name or any(NUL in v for v in values):
                        return name.replace(NUL, "")
            elif "json" in content_type and b"\\u0000" in request.body and _holds_nul(json.loads(request.body)):
                return "body"
        except (RequestDataTooBig, MultiPartParserError, ValueError):
            return None  # not readable: the view's own error handling answers it
    return None


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = nul_field(request)
        if field is None:
            return self.get_response(request)
        message = "NUL characters (U+0000) are not accepted"
        body = {"detail": f"{field}: {message}", "errors": [{"field": field, "message": message}]}
        return HttpResponse(json.dumps(body), status=400, content_type="application/json; charset=utf-8")
