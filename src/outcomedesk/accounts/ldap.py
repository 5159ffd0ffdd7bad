"""LDAP and Active Directory: the connection settings, reading people and groups, and the directory sync.

python-ldap is imported inside the functions (the optional extra `outcomedesk[ldap]`), so that the settings
can build an `LdapConfig` and the rest of the product runs without it. The login backend is in
`ldap_backend.py`; both turn an entry into a `DirectoryPerson` here and hand it to
`accounts.services.apply_directory_person`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from outcomedesk.accounts.directory import DirectoryMappingError, DirectoryPerson, normalise_group
from outcomedesk.core.errors import InvalidInput

logger = logging.getLogger(__name__)
SOURCE = "ldap"
_TRUE = {"true", "yes", "1", "on", "y"}


class LdapError(RuntimeError):
    """The directory cannot be read: unreachable, the bind refused, a search failed."""


@dataclass(frozen=True)
class LdapConfig:
    """How to reach the directory and which attributes say what (defaults suit Active Directory)."""

    url: str
    user_search_base: str
    bind_dn: str = ""
    bind_password: str = ""
    user_filter: str = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=%(user)s))"
    group_search_base: str = ""
    group_filter: str = "(|(objectClass=group)(objectClass=groupOfNames))"
    group_member_attr: str = "member"
    group_name_attr: str = "cn"
    username_attr: str = "sAMAccountName"
    id_attr: str = "objectGUID"
    email_attr: str = "mail"
    first_name_attr: str = "givenName"
    last_name_attr: str = "sn"
    display_name_attr: str = "displayName"
    department_attr: str = "department"
    manager_attr: str = "manager"
    vip_attr: str = ""
    disabled_attr: str = "userAccountControl"
    start_tls: bool = False
    ca_file: str = ""
    timeout: int = 10
    page_size: int = 500  # entries per page of a search (Active Directory returns at most 1,000)

    def check(self) -> list[str]:
        """What is wrong with these settings, one message each (the settings refuse to start on any)."""
        problems = []
        if not self.url.startswith(("ldap://", "ldaps://")):
            problems.append(f"OUTCOMEDESK_LDAP_URL={self.url!r} must start with ldap:// or ldaps://")
        if not self.user_search_base:
            problems.append("OUTCOMEDESK_LDAP_USER_SEARCH_BASE is required with OUTCOMEDESK_LDAP_URL")
        if "%(user)s" not in self.user_filter:
            problems.append(f"OUTCOMEDESK_LDAP_USER_FILTER={self.user_filter!r} must contain %(user)s")
        if not self.username_attr:
            problems.append("OUTCOMEDESK_LDAP_USERNAME_ATTR cannot be empty")
        if self.timeout < 1:
            problems.append(f"OUTCOMEDESK_LDAP_TIMEOUT={self.timeout} must be 1 or more")
        return problems

    @property
    def people_filter(self) -> str:
        """The login filter with any username: everyone a login could find."""
        return self.user_filter.replace("%(user)s", "*")

    def attribute_list(self) -> list[str]:
        """User attributes to read: all ordinary ones, plus the id (entryUUID is operational in OpenLDAP)."""
        return ["*", self.id_attr] if self.id_attr else ["*"]


def _values(attrs: Mapping[str, Sequence[Any]], name: str) -> list[Any]:
    if not name:
        return []
    for key, values in attrs.items():
        if key.lower() == name.lower():
            return list(values)
    return []


def _text(attrs: Mapping[str, Sequence[Any]], name: str) -> str:
    values = _values(attrs, name)
    if not values:
        return ""
    value = values[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _stable_id(config: LdapConfig, dn: str, attrs: Mapping[str, Sequence[Any]]) -> str:
    values = _values(attrs, config.id_attr)
    if values:
        value = values[0]
        if config.id_attr.lower() == "objectguid":
            # Active Directory's objectGUID is 16 bytes, little-endian. django-auth-ldap decodes as UTF-8 whatever
            # happens to be valid UTF-8, the sync reads raw bytes: both give the same UUID.
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            return str(uuid.UUID(bytes_le=raw)) if len(raw) == 16 else raw.hex()
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return dn.lower()  # no id attribute: the DN (a renamed person is found again by username)


def _is_disabled(config: LdapConfig, attrs: Mapping[str, Sequence[Any]]) -> bool:
    value = _text(attrs, config.disabled_attr).strip()
    if not value:
        return False
    if config.disabled_attr.lower() == "useraccountcontrol":  # Active Directory: the ACCOUNTDISABLE bit
        try:
            return bool(int(value) & 0x2)
        except ValueError:
            return False
    return value.lower() in _TRUE | {"disabled", "inactive", "locked"}


def manager_username_from_dn(config: LdapConfig, manager_dn: str) -> str:
    """The username in a manager's DN when the DN is named by it (uid=dave,ou=people,...), else ''."""
    first = manager_dn.split(",", 1)[0]
    name, _, value = first.partition("=")
    return value.strip() if name.strip().lower() == config.username_attr.lower() else ""


def person_from_entry(config: LdapConfig, dn: str, attrs: Mapping[str, Sequence[Any]], *, groups: set[str],
                      manager_username: str) -> DirectoryPerson:
    """A directory entry as a `DirectoryPerson`; `groups` holds the DNs and names of the person's groups."""
    vip: bool | None = None
    if config.vip_attr:
        vip = _text(attrs, config.vip_attr).strip().lower() in _TRUE | {"vip"}
    return DirectoryPerson(
        source=SOURCE,
        external_id=_stable_id(config, dn, attrs),
        username=_text(attrs, config.username_attr).strip(),
        email=_text(attrs, config.email_attr).strip(),
        first_name=_text(attrs, config.first_name_attr),
        last_name=_text(attrs, config.last_name_attr),
        display_name=_text(attrs, config.display_name_attr),
        department=_text(attrs, config.department_attr),
        manager_username=manager_username,
        is_vip=vip,
        disabled=_is_disabled(config, attrs),
        groups=frozenset(groups),
    )


# --- reading the whole directory --------------------------------------------------------------------------

def connect(config: LdapConfig) -> Any:
    """A connection bound as the service account; `LdapError` says why not in words an admin can act on."""
    try:
        import ldap
    except ImportError:
        raise LdapError("python-ldap is not installed: pip install 'outcomedesk[ldap]'") from None
    conn = ldap.initialize(config.url)
    conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    conn.set_option(ldap.OPT_REFERRALS, 0)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, config.timeout)
    conn.set_option(ldap.OPT_TIMEOUT, config.timeout)
    if config.ca_file:
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, config.ca_file)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
    try:
        if config.start_tls:
            conn.start_tls_s()
        conn.simple_bind_s(config.bind_dn, config.bind_password)
    except ldap.SERVER_DOWN as exc:
        raise LdapError(f"cannot reach the LDAP server at {config.url}: {_describe(exc)}") from None
    except ldap.INVALID_CREDENTIALS:
        raise LdapError(f"the LDAP server at {config.url} refused the bind as {config.bind_dn or 'anonymous'!r}: "
                        "invalid credentials (check OUTCOMEDESK_LDAP_BIND_DN and _BIND_PASSWORD)") from None
    except ldap.LDAPError as exc:
        raise LdapError(f"LDAP error at {config.url}: {_describe(exc)}") from None
    return conn


def _describe(exc: Exception) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return " - ".join(str(info[k]) for k in ("desc", "info") if info.get(k)) or str(exc)


def _search(conn: Any, base: str, filterstr: str, attrs: list[str], page_size: int) -> Iterator[tuple[str, Any]]:
    """Every entry under `base`, a page at a time (Active Directory returns at most 1,000 per search)."""
    import ldap
    from ldap.controls import SimplePagedResultsControl

    control = SimplePagedResultsControl(True, size=page_size, cookie="")
    while True:
        try:
            msgid = conn.search_ext(base, ldap.SCOPE_SUBTREE, filterstr, attrs, serverctrls=[control])
            _type, entries, _msgid, controls = conn.result3(msgid)
        except ldap.NO_SUCH_OBJECT:
            raise LdapError(f"the search base {base!r} does not exist on the LDAP server") from None
        except ldap.LDAPError as exc:
            raise LdapError(f"the LDAP search under {base!r} with {filterstr!r} failed: {_describe(exc)}") from None
        for dn, entry_attrs in entries:
            if dn is not None:  # search references carry no DN
                yield dn, entry_attrs
        cookies = [c.cookie for c in controls if c.controlType == SimplePagedResultsControl.controlType]
        if not cookies or not cookies[0]:
            return
        control.cookie = cookies[0]


def read_people(config: LdapConfig) -> list[DirectoryPerson]:
    """Everyone the login filter could find under the user search base, with their groups and managers."""
    conn = connect(config)
    try:
        groups_of: dict[str, set[str]] = {}
        if config.group_search_base:
            attrs = [config.group_member_attr, config.group_name_attr]
            for group_dn, group_attrs in _search(conn, config.group_search_base, config.group_filter, attrs,
                                                 config.page_size):
                names = {normalise_group(group_dn)} | {normalise_group(n) for n in
                                                        [_text(group_attrs, config.group_name_attr)] if n}
                for member in _values(group_attrs, config.group_member_attr):
                    member_dn = member.decode() if isinstance(member, bytes) else str(member)
                    groups_of.setdefault(normalise_group(member_dn), set()).update(names)
        entries = list(_search(conn, config.user_search_base, config.people_filter, config.attribute_list(),
                               config.page_size))
    finally:
        conn.unbind_s()
    username_of = {normalise_group(dn): _text(attrs, config.username_attr).strip() for dn, attrs in entries}
    people = []
    for dn, attrs in entries:
        manager_dn = _text(attrs, config.manager_attr)
        manager = username_of.get(normalise_group(manager_dn), "") if manager_dn else ""
        people.append(person_from_entry(config, dn, attrs, groups=groups_of.get(normalise_group(dn), set()),
                                        manager_username=manager))
    return people


@dataclass
class SyncReport:
    """What a sync did (or, dry, would do)."""

    created: int = 0
    updated: int = 0
    disabled: int = 0
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (f"{verb}created {self.created}, {verb}updated {self.updated}, {verb}disabled {self.disabled}, "
                f"unchanged {self.unchanged}, failed {len(self.failed)}")


class _DryRun(Exception):
    """Raised at the end of a dry run to roll back everything it wrote."""


def sync_directory(config: LdapConfig, *, dry_run: bool = False,
                   progress: Callable[[int, int], None] | None = None, progress_every: float = 5.0) -> SyncReport:
    """Apply every person of the directory to their account, then disable the LDAP accounts of people who are
    no longer in it. A dry run does all of it in a transaction that is rolled back."""
    from outcomedesk.accounts import services
    from outcomedesk.accounts.models import User

    people = read_people(config)
    report = SyncReport(dry_run=dry_run)
    if not people and User.objects.filter(directory_source=SOURCE, is_active=True).exists():
        raise LdapError(f"the search under {config.user_search_base!r} with {config.people_filter!r} found nobody: "
                        "refusing to disable every LDAP account (check the search base and filter)")
    try:
        with transaction.atomic():
            _apply_all(people, report, services, progress, progress_every)
            seen_ids = {p.external_id for p in people}
            seen_names = {p.username.lower() for p in people}
            for user in User.objects.filter(directory_source=SOURCE, is_active=True).order_by("pk"):
                gone = user.directory_id not in seen_ids and user.username.lower() not in seen_names
                if gone and services.disable_directory_account(user, reason="no longer in the LDAP directory"):
                    report.disabled += 1
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


def _apply_all(people: list[DirectoryPerson], report: SyncReport, services: Any,
               progress: Callable[[int, int], None] | None, progress_every: float) -> None:
    pending_managers = []
    if progress:
        progress(0, len(people))  # the directory is read: say how many there are before the first is applied
    last = time.monotonic()
    for done, person in enumerate(people, start=1):
        try:
            with transaction.atomic():
                outcome = services.apply_directory_person(person)
        except (InvalidInput, DirectoryMappingError) as exc:
            report.failed.append(f"{person.username or person.external_id}: {exc}")
            continue
        setattr(report, outcome.status, getattr(report, outcome.status) + 1)
        if outcome.manager_missing:
            pending_managers.append((outcome.user, person.manager_username, outcome.status))
        if progress and time.monotonic() - last >= progress_every:
            progress(done, len(people))
            last = time.monotonic()
    # Managers who came later in the directory than the people they manage.
    for user, manager, status in pending_managers:
        if services.link_manager(user, manager) and status == "unchanged":
            report.unchanged -= 1
            report.updated += 1
