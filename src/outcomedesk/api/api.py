"""The REST API under /api/v1/: assembled from each app's router, with bearer-token and session auth."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import Field

from outcomedesk.accounts import lockout
from outcomedesk.accounts.api import router as accounts_router
from outcomedesk.accounts.mfa import mfa_setup_pending
from outcomedesk.accounts.services import user_for_token
from outcomedesk.api.errors import error_body, for_exception, too_large
from outcomedesk.assist.api import router as assist_router
from outcomedesk.cmdb.api import router as cmdb_router
from outcomedesk.core.errors import ServiceError
from outcomedesk.experience.api import router as experience_router
from outcomedesk.improvement.api import router as improvement_router
from outcomedesk.improvement.register.api import router as improvement_register_router
from outcomedesk.insights.api import router as insights_router
from outcomedesk.intake.api import router as intake_router
from outcomedesk.mail.api import router as mail_router
from outcomedesk.sla.api import router as sla_router
from outcomedesk.tickets.api import router as tickets_router


class BearerToken(HttpBearer):
    """`Authorization: Bearer od_...`, tokens made with `outcomedesk token create USER`. Bad tokens count towards
    the login lockout of the address they come from (accounts/lockout.py): a locked-out address gets 429."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        lockout.check_token_attempts(request)
        user = user_for_token(token)
        if user is None:
            lockout.record_bad_token(request)
            return None
        request.user = user
        return user


class Session(APIKeyCookie):
    """The browser session, with Django's CSRF check on unsafe methods."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            if mfa_setup_pending(request):
                raise HttpError(403, "your role requires two-factor authentication: set it up at "
                                     f"{reverse('mfa_index')} first (API tokens are not affected)")
            return user
        return None


class ErrorItem(Schema):
    field: str | None = Field(description="The input the message is about (a body field, a query or path "
                                          "parameter, Authorization), or null for the request as a whole")
    message: str


class ErrorOut(Schema):
    """Every error answer of the API (4xx and 5xx), whoever produced it."""

    detail: str = Field(description="The messages joined, each prefixed by its field")
    errors: list[ErrorItem]
    reference: str | None = Field(None, description="500 only: the id under which the error was logged")


ERROR_STATUSES = {
    400: "Bad input: each error names its field",
    401: "Not logged in, or the bearer token is not valid",
    403: "Not allowed",
    404: "No such object, or not visible to you",
    409: "A conflict: someone changed the object since the version you sent, or it is in the way",
    413: "The request body or an attachment is larger than the limit",
    500: "An unexpected error, logged under the reference the answer gives",
}


class OutcomedeskApi(NinjaAPI):
    """The ninja API whose OpenAPI document declares, for every operation, the error answers it can give."""

    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_errors(schema)
        return schema


def document_errors(schema: dict[str, Any]) -> None:
    """Add ErrorOut answers to every operation; one key per status (ninja may give both 200 and "200")."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}))
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components["ErrorOut"].pop("$defs", None)
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            merged: dict[str, Any] = {}
            for status, answer in operation.get("responses", {}).items():
                merged.setdefault(str(status), {}).update(answer)
            for status, description in ERROR_STATUSES.items():
                if status == 401 and operation.get("security") == []:
                    continue
                if status == 413 and method in ("get", "delete"):
                    continue
                merged.setdefault(str(status), {"description": description, **error})
            operation["responses"] = dict(sorted(merged.items()))


api = OutcomedeskApi(
    title="Outcomedesk API",
    version="1",
    description="Incidents, requests and the service desk. Errors are JSON: "
    '`{"detail": "...", "errors": [{"field": "title", "message": "is required"}]}`.',
    auth=[BearerToken(), Session()],
    urls_namespace="api-1",
)
api.add_router("/", accounts_router)
api.add_router("/", cmdb_router)
api.add_router("/", tickets_router)
api.add_router("/sla", sla_router)
api.add_router("/surveys", experience_router)
api.add_router("/insights", insights_router)
api.add_router("/maturity", improvement_router)
api.add_router("/improvement/initiatives", improvement_register_router)
api.add_router("/assist", assist_router)
api.add_router("/intake", intake_router)
api.add_router("/mail", mail_router)


def _errors(request: HttpRequest, status: int, errors: list[dict[str, Any]]) -> HttpResponse:
    return api.create_response(request, error_body(errors), status=status)


@api.exception_handler(ServiceError)
def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return _errors(request, exc.status, exc.as_dicts())


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for item in exc.errors:
        loc = [str(part) for part in item.get("loc", ()) if part not in ("body", "payload", "query", "params", "form",
                                                                           "path", "file")]
        errors.append({"field": ".".join(loc) or "body", "message": item.get("msg", "is invalid")})
    return _errors(request, 400, errors)


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _errors(request, 401, [{"field": "Authorization", "message": "log in or send a valid bearer token"}])


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _errors(request, exc.status_code, [{"field": None, "message": str(exc)}])


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _errors(request, 404, [{"field": None, "message": str(exc) or "not found"}])


@api.exception_handler(RequestDataTooBig)
def request_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return too_large()


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    return for_exception(request, exc)
