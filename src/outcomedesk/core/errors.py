"""Errors raised by service functions; every door (API, UI, CLI) turns them into its own answer."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the errors a service function raises on purpose."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dicts(self) -> list[dict[str, str | None]]:
        return [{"field": self.field, "message": self.message}]


class InvalidInput(ServiceError):
    """One or more fields hold values the service rejects."""

    def __init__(self, errors: dict[str, str] | str, field: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {field or "__all__": errors}
        self.errors = errors
        first_field = next(iter(errors))
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()), first_field)

    def as_dicts(self) -> list[dict[str, str | None]]:
        return [{"field": k, "message": v} for k, v in self.errors.items()]


class NotAllowed(ServiceError):
    """The actor may not do this."""

    status = 403


class NotFound(ServiceError):
    """The object does not exist or is not visible to the actor."""

    status = 404


class Conflict(ServiceError):
    """Someone else changed the object since the actor loaded it."""

    status = 409


class TooLarge(InvalidInput):
    """A field or upload is larger than the configured limit (HTTP 413)."""

    status = 413


class AlreadyImported(Conflict):
    """Another import stored a ticket with this `external_ref` first (two imports of one row at once)."""

    def __init__(self, ref: str, number: str) -> None:
        super().__init__(f"{ref!r} was already imported as {number}", field="external_ref")
        self.number = number
