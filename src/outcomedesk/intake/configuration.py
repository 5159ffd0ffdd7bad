"""What every intake connection's configuration shares (mailboxes, alert sources, chat channels, webhook sources
and subscriptions): the fields it knows, the desk it belongs to, that only that desk's managers change it, and
that secrets stay in the environment (a connection names the variable)."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Model

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk, User
from outcomedesk.core.errors import InvalidInput, NotAllowed

ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")


def merged(actor: Any, values: dict[str, Any], fields: tuple[str, ...], row: Model, *, saved: bool, what: str
           ) -> tuple[dict[str, Any], Desk]:
    """The connection's fields after `values` (the stored ones for the rest) and its desk, once the actor is known
    to manage that desk (and, for a stored one, the desk it was on). `what` names the connection in errors."""
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InvalidInput({name: f"is not a field of {what}" for name in unknown})
    current = {name: getattr(row, f"{name}_id" if name in ("desk", "account") else name, None) for name in fields}
    result = current | values
    ref = result.get("desk")
    desk = ref if isinstance(ref, Desk) else Desk.objects.filter(pk=ref).first() if ref else None
    if desk is None:
        raise InvalidInput({"desk": "is required"})
    if not policy.can(actor, policy.MANAGE, desk) or (saved and not policy.can(actor, policy.MANAGE, row)):
        raise NotAllowed(f"only managers of the {desk.name} desk may configure its {what}s")
    return result, desk


def check_secret_env(errors: dict[str, str], value: Any) -> str:
    name = str(value or "").strip()
    if not name:
        errors["secret_env"] = "is required"
    elif not ENV_NAME.fullmatch(name):
        errors["secret_env"] = "name an environment variable (capital letters, digits and _), not the secret itself"
    return name


def integration_account(errors: dict[str, str], value: Any, desk: Desk) -> User | None:
    """The active agent of `desk` a connection acts as, else an error on `account`."""
    account = value if isinstance(value, User) else User.objects.filter(pk=value).first() if value else None
    if account is None or not account.is_active or not policy.can(account, policy.WORK, desk):
        errors["account"] = f"must be an active agent of the {desk.name} desk (the integration account)"
        return None
    return account
