"""A person as a directory describes them (LDAP, Active Directory, an OIDC or SAML identity provider), and the
mapping of the directory's groups to desks and roles.

Every sign-on door and the directory sync build a `DirectoryPerson` and hand it to
`accounts.services.apply_directory_person`, the one function that turns it into an Outcomedesk account. This
module holds no database code: the settings parse the group mapping with it at start-up.

The mapping (`OUTCOMEDESK_DIRECTORY_GROUPS`, JSON) sends a group to a list of grants:

    {"cn=it-agents,ou=groups,dc=example,dc=org": ["desk:it:agent"],
     "HR Managers": ["desk:hr:manager"], "ServiceManagers": ["service-manager"]}

A grant is `desk:<slug>:agent`, `desk:<slug>:manager`, `service-manager`, `executive`, `platform-admin` or
`vip`. Group keys match case-insensitively, a DN with or without spaces after its commas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FLAGS = ("service-manager", "executive", "platform-admin", "vip")
DESK_ROLES = ("agent", "manager")
# Which grant wins when two groups give the same desk.
_ROLE_RANK = {"agent": 1, "manager": 2}
_DESK_GRANT = re.compile(r"desk:(?P<slug>[a-z0-9][a-z0-9-]{0,39}):(?P<role>[a-z]+)")
_DN_SPACES = re.compile(r"\s*([,=+])\s*")


class DirectoryMappingError(ValueError):
    """The group mapping names a grant, a role or a desk that does not exist."""


@dataclass(frozen=True)
class DirectoryPerson:
    """One person as the directory (or identity provider) describes them.

    `source` names the directory ("ldap", "oidc:<provider>", "saml:<idp>") and `external_id` the person's
    stable id there (an LDAP entryUUID/objectGUID or DN, an OIDC `sub`, a SAML NameID). `is_vip=None` means
    the directory has no opinion (the VIP flag stays as an admin set it, unless a mapped group grants it).
    `groups` are the names, DNs or claim values of the person's groups, matched against the mapping.
    """

    source: str
    external_id: str
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    department: str = ""
    manager_username: str = ""
    is_vip: bool | None = None
    disabled: bool = False
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Grants:
    """What a person's groups give them: a role on each desk (by slug) and platform-wide flags."""

    desks: Mapping[str, str]
    flags: frozenset[str]


@dataclass(frozen=True)
class GroupMapping:
    """Normalised group key → the grants it gives."""

    rules: Mapping[str, tuple[str, ...]]

    def grants_for(self, groups: Iterable[str]) -> Grants:
        desks: dict[str, str] = {}
        flags: set[str] = set()
        for group in groups:
            for grant in self.rules.get(normalise_group(group), ()):
                if grant in FLAGS:
                    flags.add(grant)
                    continue
                match = _DESK_GRANT.fullmatch(grant)
                assert match is not None  # parse_group_mapping accepted only these two forms
                slug, role = match["slug"], match["role"]
                if _ROLE_RANK[role] > _ROLE_RANK.get(desks.get(slug, ""), 0):
                    desks[slug] = role
        return Grants(desks=desks, flags=frozenset(flags))

    def desk_slugs(self) -> set[str]:
        """Every desk the mapping names (checked against the database by `outcomedesk check`)."""
        slugs = set()
        for grants in self.rules.values():
            for grant in grants:
                match = _DESK_GRANT.fullmatch(grant)
                if match:
                    slugs.add(match["slug"])
        return slugs


def normalise_group(name: str) -> str:
    """The form group keys are compared in: lower case, no spaces around a DN's separators."""
    return _DN_SPACES.sub(r"\1", name.strip()).lower()


def parse_group_mapping(raw: str, *, variable: str = "OUTCOMEDESK_DIRECTORY_GROUPS") -> GroupMapping:
    """The mapping from its JSON text; `DirectoryMappingError` names the first group or grant that is wrong."""
    if not raw.strip():
        return GroupMapping(rules={})
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DirectoryMappingError(f"{variable} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DirectoryMappingError(f"{variable} must be a JSON object of group → list of grants")
    rules: dict[str, tuple[str, ...]] = {}
    for group, grants in data.items():
        if not group.strip():
            raise DirectoryMappingError(f"{variable} has an empty group name")
        if isinstance(grants, str):
            grants = [grants]
        if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
            raise DirectoryMappingError(f"{variable}: the grants of {group!r} must be a list of strings")
        cleaned = []
        for grant in grants:
            grant = grant.strip()
            if grant not in FLAGS:
                match = _DESK_GRANT.fullmatch(grant)
                if match is None:
                    raise DirectoryMappingError(
                        f"{variable}: {group!r} grants {grant!r}, which is not a role; use desk:<slug>:agent, "
                        f"desk:<slug>:manager, {', '.join(FLAGS)}"
                    )
                if match["role"] not in DESK_ROLES:
                    raise DirectoryMappingError(
                        f"{variable}: {group!r} grants {grant!r}: {match['role']!r} is not a desk role "
                        f"(use {' or '.join(DESK_ROLES)})"
                    )
            cleaned.append(grant)
        key = normalise_group(group)
        rules[key] = tuple(dict.fromkeys(rules.get(key, ()) + tuple(cleaned)))
    return GroupMapping(rules=rules)


def mapping_problems(mapping: GroupMapping, known_desks: Iterable[str]) -> list[str]:
    """One message per desk the mapping names that does not exist."""
    known = set(known_desks)
    problems = []
    for group, grants in sorted(mapping.rules.items()):
        for grant in grants:
            match = _DESK_GRANT.fullmatch(grant)
            if match and match["slug"] not in known:
                problems.append(f"OUTCOMEDESK_DIRECTORY_GROUPS: {group!r} grants {grant!r}, "
                                f"but there is no desk {match['slug']!r}")
    return problems
