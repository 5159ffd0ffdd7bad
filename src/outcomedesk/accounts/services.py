"""Writes about people, desks, groups and tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from outcomedesk.accounts.directory import DirectoryMappingError, DirectoryPerson, GroupMapping
from outcomedesk.accounts.models import (
    ApiToken,
    AssignmentGroup,
    AssignmentMethod,
    Desk,
    DeskMembership,
    GroupMembership,
    MembershipSource,
    MfaRequirement,
    MfaRole,
    User,
)
from outcomedesk.core import clock
from outcomedesk.core.audit import AuditBatch
from outcomedesk.core.errors import InvalidInput, NotFound, ServiceError
from outcomedesk.core.models import Channel

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


def free_username(address: str) -> str:
    """A username for a new account made from an e-mail address (intake by e-mail or chat): the address itself,
    or the address with -2, -3... when taken."""
    base = re.sub(r"[^\w.@+-]", "", address.lower())[:140] or "requester"
    name, n = base, 1
    while User.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


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


# --- people from a directory (LDAP, Active Directory, OIDC and SAML identity providers) -----------------------

# The platform-wide flags a directory group may grant, and the user field each one sets.
_FLAG_FIELDS = {"service-manager": "is_service_manager", "executive": "is_executive",
                "platform-admin": "is_superuser", "vip": "is_vip"}
# The profile fields a directory sets, with their length (longer values are cut, not refused).
_PROFILE_FIELDS = {"email": 254, "first_name": 150, "last_name": 150, "display_name": 150, "department": 120}


class DirectoryConflict(InvalidInput):
    """The person's username belongs to an account of another directory."""


@dataclass(frozen=True)
class DirectoryOutcome:
    """What applying a directory person did: `status` is created, updated, disabled or unchanged; `changes`
    names each change; `manager_missing` is set when the manager named has no account yet (the sync links
    them in a second pass)."""

    user: User
    status: str
    changes: tuple[str, ...]
    manager_missing: bool = False


def directory_mapping() -> GroupMapping:
    """The group mapping of the settings (`OUTCOMEDESK_DIRECTORY_GROUPS`, parsed at start-up)."""
    mapping = getattr(settings, "OUTCOMEDESK_DIRECTORY_GROUPS", None)
    return mapping if isinstance(mapping, GroupMapping) else GroupMapping(rules={})


def _check_person(person: DirectoryPerson) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not person.source.strip():
        errors["source"] = "is required (ldap, oidc:<provider>, saml:<idp>)"
    if not person.external_id.strip():
        errors["external_id"] = "is required (the person's id in the directory)"
    if not person.username.strip():
        errors["username"] = "is required"
    elif len(person.username.strip()) > 150:
        errors["username"] = "is longer than 150 characters"
    if person.email:
        try:
            validate_email(person.email)
        except ValidationError:
            errors["email"] = f"{person.email!r} is not a valid e-mail address"
    return errors


def _find_account(person: DirectoryPerson) -> User | None:
    """The account of this directory person: by their id in the directory, else by username. A username taken
    by an account of another directory is a conflict; an account made here (no source) is adopted."""
    accounts = User.objects.select_for_update()
    user = accounts.filter(directory_source=person.source, directory_id=person.external_id).first()
    if user is not None:
        return user
    user = accounts.filter(username__iexact=person.username.strip()).first()
    if user is not None and user.directory_source not in ("", person.source):
        raise DirectoryConflict(
            {"username": f"{person.username!r} belongs to an account of {user.directory_source!r}, "
                         f"not {person.source!r}"}
        )
    return user


@transaction.atomic
def apply_directory_person(
    person: DirectoryPerson, *, mapping: GroupMapping | None = None, user: User | None = None,
    channel: str = Channel.SYSTEM, now: datetime | None = None,
) -> DirectoryOutcome:
    """Create or update the account of a person a directory describes, with the desks and roles their groups
    map to. Called by every sign-on door (LDAP, OIDC, SAML) at login and by the directory sync.

    - `user`: the account a sign-on library has already linked to this person, saved or not (else it is
      found by the person's id in the directory, then by username).
    - Desk memberships and flags that came from the directory follow the groups: granted when a group maps
      to them, taken back when it no longer does. What an admin granted by hand stays.
    - A disabled person becomes inactive: their API tokens are revoked and their sessions end. A person the
      directory disabled becomes active again when the directory enables them; one an admin disabled does not.

    Raises `InvalidInput` naming a bad attribute, `DirectoryConflict` when the username belongs to another
    directory's account, `DirectoryMappingError` when a group maps to a desk that does not exist.
    """
    errors = _check_person(person)
    if errors:
        raise InvalidInput(errors)
    mapping = mapping if mapping is not None else directory_mapping()
    grants = mapping.grants_for(person.groups)
    desks = {desk.slug: desk for desk in Desk.objects.filter(slug__in=list(grants.desks))}
    missing = sorted(set(grants.desks) - set(desks))
    if missing:
        raise DirectoryMappingError(
            f"OUTCOMEDESK_DIRECTORY_GROUPS maps groups of {person.username!r} to desk(s) that do not exist: "
            f"{', '.join(missing)} (`outcomedesk check` lists every such mapping)"
        )
    now = now or clock.now()

    if user is None:
        user = _find_account(person)
    if user is None:
        user = User(username=person.username.strip())
    created = user.pk is None  # new, or built but not yet saved by a sign-on library
    if created and not user.password:
        user.set_unusable_password()
    changes: list[tuple[str, object, object]] = []

    def set_field(name: str, value: object) -> None:
        old = getattr(user, name)
        if old != value:
            setattr(user, name, value)
            if not created:
                changes.append((name, old, value))

    for name, limit in _PROFILE_FIELDS.items():
        set_field(name, getattr(person, name).strip()[:limit])
    set_field("directory_source", person.source)
    set_field("directory_id", person.external_id)

    manager_missing = False
    if person.manager_username:
        manager = User.objects.filter(username__iexact=person.manager_username.strip()).exclude(pk=user.pk).first()
        if manager is None:
            manager_missing = True
        elif user.manager_id != manager.pk:
            set_field("manager", manager)
    elif user.manager_id is not None:
        set_field("manager", None)

    recorded = set(user.directory_grants)
    for flag, name in _FLAG_FIELDS.items():
        wanted = flag in grants.flags or (flag == "vip" and person.is_vip is True)
        # A VIP attribute the directory reads says no: it owns the flag.
        owned = flag in recorded or (flag == "vip" and person.is_vip is False)
        if wanted and not getattr(user, name):
            set_field(name, True)
            recorded.add(flag)
        elif not wanted and owned:
            if getattr(user, name):
                set_field(name, False)
            recorded.discard(flag)
        else:
            continue
        if flag == "platform-admin":  # a platform admin uses the Django admin, as with create_user
            set_field("is_staff", getattr(user, name))

    deactivated = False
    if person.disabled and user.is_active:
        set_field("is_active", False)
        recorded.add("inactive")
        deactivated = True
    elif not person.disabled and not user.is_active and "inactive" in recorded:
        set_field("is_active", True)
        recorded.discard("inactive")
    if created or changes or sorted(recorded) != sorted(user.directory_grants):
        user.directory_grants = sorted(recorded)
        user.save()

    audit = AuditBatch("user", user.pk, None, channel, now)
    if created:
        audit.add("created", "", None, f"{user.username} from {person.source}")
    for name, old, new in changes:
        if name == "is_active":
            audit.add("disabled" if not new else "enabled", "", None, f"by {person.source}")
        else:
            audit.add("set", name, old, new)
    membership_changes = _apply_directory_desks(user, grants.desks, desks, audit)
    if deactivated:
        _cut_access(user, now, audit)
    audit.save()

    if created:
        status = "created"
    elif deactivated:
        status = "disabled"
    elif changes or membership_changes:
        status = "updated"
    else:
        status = "unchanged"
    names = tuple(name for name, _old, _new in changes) + membership_changes
    return DirectoryOutcome(user=user, status=status, changes=names, manager_missing=manager_missing)


def _apply_directory_desks(user: User, wanted: Mapping[str, str], desks: dict[str, Desk],
                           audit: AuditBatch) -> tuple[str, ...]:
    """Add, change and remove the person's directory memberships; manual ones are left as the admin set them."""
    changes: list[str] = []
    existing = {m.desk.slug: m for m in DeskMembership.objects.filter(user=user).select_related("desk")}
    for slug, role in sorted(wanted.items()):
        membership = existing.get(slug)
        if membership is None:
            DeskMembership.objects.create(user=user, desk=desks[slug], role=role, source=MembershipSource.DIRECTORY)
            audit.add("desk added", slug, None, role)
            changes.append(f"desk {slug}")
        elif membership.source == MembershipSource.DIRECTORY and membership.role != role:
            DeskMembership.objects.filter(pk=membership.pk).update(role=role)
            audit.add("desk role", slug, membership.role, role)
            changes.append(f"desk {slug}")
    for slug, membership in sorted(existing.items()):
        if membership.source == MembershipSource.DIRECTORY and slug not in wanted:
            membership.delete()
            audit.add("desk removed", slug, membership.role, None)
            changes.append(f"desk {slug}")
    return tuple(changes)


def _cut_access(user: User, now: datetime, audit: AuditBatch) -> None:
    """An inactive person's API tokens are revoked and their sessions end now, not when they expire."""
    revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        audit.add("tokens revoked", "", None, revoked)
    ended = end_sessions(user)
    if ended:
        audit.add("sessions ended", "", None, ended)


def end_sessions(user: User) -> int:
    """Delete the stored sessions of `user` (database-backed session engines); returns how many. Other engines'
    sessions are refused at their next request anyway, since the account is inactive."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):
        return 0
    ended = 0
    for session in store.get_model_class().objects.filter(expire_date__gt=clock.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            store(session.session_key).delete()
            ended += 1
    return ended


@transaction.atomic
def disable_directory_account(user: User, *, reason: str, channel: str = Channel.SYSTEM,
                              now: datetime | None = None) -> bool:
    """Make a directory account inactive (the person left the directory): tokens revoked, sessions ended.
    Returns False when it was inactive already. The directory enables it again if the person comes back."""
    now = now or clock.now()
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        return False
    user.is_active = False
    user.directory_grants = sorted(set(user.directory_grants) | {"inactive"})
    user.save(update_fields=["is_active", "directory_grants"])
    audit = AuditBatch("user", user.pk, None, channel, now)
    audit.add("disabled", "", None, reason)
    _cut_access(user, now, audit)
    audit.save()
    return True


def link_manager(user: User, manager_username: str) -> bool:
    """Set a directory person's manager once the manager's account exists (the sync's second pass)."""
    manager = User.objects.filter(username__iexact=manager_username.strip()).exclude(pk=user.pk).first()
    if manager is None or user.manager_id == manager.pk:
        return False
    with transaction.atomic():
        old = user.manager
        User.objects.filter(pk=user.pk).update(manager=manager)
        user.manager = manager
        audit = AuditBatch("user", user.pk, None, Channel.SYSTEM, clock.now())
        audit.add("set", "manager", old, manager)
        audit.save()
    return True


# --- two-factor authentication required per role -----------------------------------------------------------

def set_mfa_requirement(role: str, required: bool) -> MfaRequirement:
    """Require (or stop requiring) two-factor authentication of everyone with `role` (accounts/mfa.py)."""
    from outcomedesk.accounts.mfa import forget_required_roles

    if role not in MfaRole.values:
        raise InvalidInput({"role": f"{role!r} is not a role; use one of {', '.join(MfaRole.values)}"})
    requirement, _ = MfaRequirement.objects.update_or_create(role=role, defaults={"required": required})
    transaction.on_commit(forget_required_roles)
    forget_required_roles()
    return requirement
