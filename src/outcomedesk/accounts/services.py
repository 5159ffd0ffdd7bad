"""Writes about people, desks, groups and tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from outcomedesk.accounts.models import (
    ApiToken,
    AssignmentGroup,
    AssignmentMethod,
    Desk,
    DeskMembership,
    GroupMembership,
    User,
)
from outcomedesk.core import clock
from outcomedesk.core.errors import InvalidInput, NotFound, ServiceError

TOKEN_PREFIX = "od_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def create_user(
    username: str,
    *,
    email: str = "",
    password: str | None = None,
    display_name: str = "",
    is_superuser: bool = False,
    is_service_manager: bool = False,
    check_password: bool = True,
    first_name: str = "",
    last_name: str = "",
    department: str = "",
    is_vip: bool = False,
    is_executive: bool = False,
) -> User:
    """Create a person; `password=None` makes an account that cannot log in with a password. An executive sees
    the insights of every non-confidential desk."""
    errors: dict[str, str] = {}
    username = username.strip()
    if not username:
        errors["username"] = "is required"
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = f"{username!r} is already taken"
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = f"{email!r} is not a valid e-mail address"
    if password is not None and check_password:
        try:
            validate_password(password, User(username=username, email=email))
        except ValidationError as exc:
            errors["password"] = " ".join(exc.messages)
    if errors:
        raise InvalidInput(errors)
    user = User(
        username=username,
        email=email,
        display_name=display_name,
        is_superuser=is_superuser,
        is_staff=is_superuser,
        is_service_manager=is_service_manager,
        first_name=first_name,
        last_name=last_name,
        department=department,
        is_vip=is_vip,
        is_executive=is_executive,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    return user


def create_desk(
    slug: str, name: str, *, description: str = "", confidential: bool = False, reopen_window_days: int = 7
) -> Desk:
    """A new desk (department); confidential desks hide their tickets from everyone outside them."""
    errors: dict[str, str] = {}
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", slug):
        errors["slug"] = "use 1-40 lower-case letters, digits and dashes"
    elif Desk.objects.filter(slug=slug).exists():
        errors["slug"] = f"a desk {slug!r} exists already"
    if not name.strip():
        errors["name"] = "is required"
    elif Desk.objects.filter(name__iexact=name.strip()).exists():
        errors["name"] = f"a desk named {name!r} exists already"
    if reopen_window_days < 0:
        errors["reopen_window_days"] = "cannot be negative"
    if errors:
        raise InvalidInput(errors)
    return Desk.objects.create(slug=slug, name=name.strip(), description=description, confidential=confidential,
                               reopen_window_days=reopen_window_days)


def set_desk_active(desk: Desk, active: bool) -> None:
    """Open or close a desk for new tickets; its tickets stay readable."""
    Desk.objects.filter(pk=desk.pk).update(is_active=active)
    desk.is_active = active


def create_group(desk: Desk, name: str, *, email: str = "", assignment_method: str = "manual") -> AssignmentGroup:
    """A new assignment group in `desk`."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "is required"
    elif AssignmentGroup.objects.filter(desk=desk, name__iexact=name.strip()).exists():
        errors["name"] = f"{desk.name} has a group named {name!r} already"
    if assignment_method not in AssignmentMethod.values:
        errors["assignment_method"] = f"use one of {', '.join(AssignmentMethod.values)}"
    if errors:
        raise InvalidInput(errors)
    return AssignmentGroup.objects.create(desk=desk, name=name.strip(), email=email,
                                          assignment_method=assignment_method)


def add_to_desk(user: User, desk: Desk, role: str = "agent") -> DeskMembership:
    membership, _ = DeskMembership.objects.update_or_create(user=user, desk=desk, defaults={"role": role})
    return membership


def add_to_group(user: User, group: AssignmentGroup) -> None:
    GroupMembership.objects.get_or_create(user=user, group=group)


def set_away(user: User, away: bool) -> None:
    User.objects.filter(pk=user.pk).update(away=away)
    user.away = away


def set_notifications(user: User, enabled: bool) -> None:
    User.objects.filter(pk=user.pk).update(email_notifications=enabled)
    user.email_notifications = enabled


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str


class TokenRejected(ServiceError):
    """A bearer token that exists but may not be used any more (expired, revoked): 401 naming the reason."""

    status = 401


def token_max_days() -> int | None:
    """The deployment's longest token lifetime (OUTCOMEDESK_TOKEN_MAX_DAYS), or None: no limit."""
    return getattr(settings, "OUTCOMEDESK_TOKEN_MAX_DAYS", None) or None


def create_token(username: str, name: str = "cli", *, expires_at: datetime | None = None) -> IssuedToken:
    """Issue a bearer token; the key is shown once and only its hash is kept.

    `expires_at=None` means no expiry, unless the deployment sets OUTCOMEDESK_TOKEN_MAX_DAYS: then the token expires
    that many days from now, and may not be asked to live longer."""
    now = clock.now()
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "is required"
    elif len(name) > 100:
        errors["name"] = "use at most 100 characters"
    max_days = token_max_days()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            errors["expires_at"] = "needs a time zone"
        elif expires_at <= now:
            errors["expires_at"] = "must be in the future"
        elif max_days is not None and expires_at > now + timedelta(days=max_days):
            errors["expires_at"] = f"tokens may live at most {max_days} days here (OUTCOMEDESK_TOKEN_MAX_DAYS)"
    elif max_days is not None:
        expires_at = now + timedelta(days=max_days)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(f"no active user named {username!r}", field="username")
    if errors:
        raise InvalidInput(errors)
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=key[:10], key_hash=_hash(key), created_at=now, expires_at=expires_at
    )
    return IssuedToken(token=token, key=key)


def revoke_token(prefix: str) -> int:
    return ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True).update(revoked_at=clock.now())


def user_for_token(key: str) -> User | None:
    """The active user a bearer key belongs to; None when no token of an active user has this key (a guess, or
    a token of someone who left); TokenRejected ("token expired", "token revoked") for a real key that is no longer
    valid. Records the last use, at most once a minute."""
    if not key.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key), user__is_active=True).first()
    if token is None:
        return None
    now = clock.now()
    state = token.state(now)
    if state != "active":
        raise TokenRejected(f"token {state}", field="Authorization")
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- imports of history from other tools ------------------------------------------------------------------

def ensure_people(names: dict[str, str]) -> dict[str, int]:
    """Ids of the people named {username: display name}, creating the missing ones in bulk as accounts that
    cannot log in (an imported log's callers and resolvers). Usernames match case-insensitively."""
    if not names:
        return {}
    wanted = {username.lower(): (username, display) for username, display in names.items()}
    found: dict[str, int] = {}
    keys = list(wanted)
    for start in range(0, len(keys), 500):
        for pk, username in User.objects.filter(username__in=keys[start:start + 500]).values_list("pk", "username"):
            found[username.lower()] = pk
    missing = [key for key in keys if key not in found]
    if missing:
        unusable = make_password(None)
        User.objects.bulk_create(
            [User(username=wanted[key][0], display_name=wanted[key][1][:150], password=unusable) for key in missing],
            batch_size=1000,
        )
        for pk, username in User.objects.filter(username__in=[wanted[k][0] for k in missing]).values_list(
            "pk", "username"
        ):
            found[username.lower()] = pk
    return {wanted[key][0]: pk for key, pk in found.items() if key in wanted}


def ensure_groups(desk: Desk, names: set[str]) -> dict[str, int]:
    """Ids of `desk`'s groups with these names, creating the missing ones (manual assignment)."""
    existing = {name: pk for pk, name in AssignmentGroup.objects.filter(desk=desk).values_list("pk", "name")}
    missing = sorted(n for n in names if n and n not in existing)
    if missing:
        AssignmentGroup.objects.bulk_create([AssignmentGroup(desk=desk, name=n[:100]) for n in missing])
        existing = {name: pk for pk, name in AssignmentGroup.objects.filter(desk=desk).values_list("pk", "name")}
    return {name: existing[name] for name in names if name in existing}
