"""Roles inside a tenant, what each may do, and who a request acts as.

A school is one tenant; inside it, three roles (issue 20):

- ``admin``: everything in the tenant: connections, plugins, budgets and overage consent,
  members and keys, hooks and callbacks, MCP servers, retention, plus all a teacher may do.
- ``teacher``: start runs, answer human input (approve or reject), cancel runs, read every run
  and the usage of the tenant, share graphs with students.
- ``student``: start the graphs a teacher shared, and read only the runs they started.

Every credential (an API key, a mapped Entra principal) carries one role. Keys made before roles
existed, and every key the CLI makes, are ``admin``: that is what they could do then.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from convergio.tenants._models import Tenant

__all__ = [
    "ROLE_PERMISSIONS",
    "Caller",
    "Credential",
    "KeyInfo",
    "Permission",
    "Role",
    "parse_role",
    "subject_of",
]


class Role(StrEnum):
    ADMIN = "admin"
    TEACHER = "teacher"
    STUDENT = "student"


class Permission(StrEnum):
    """One thing a route needs; the message of a 403 names it."""

    ADMIN = "manage the tenant"
    START_RUNS = "start runs"
    READ_RUNS = "read the tenant's runs"
    READ_OWN_RUNS = "read runs"
    RESPOND = "answer a run's human input"
    CANCEL = "cancel runs"
    READ_USAGE = "read the tenant's usage"
    READ_GRAPHS = "read graphs"
    SHARE_GRAPHS = "share graphs with students"


_TEACHER: Final = frozenset(
    {
        Permission.START_RUNS,
        Permission.READ_RUNS,
        Permission.READ_OWN_RUNS,
        Permission.RESPOND,
        Permission.CANCEL,
        Permission.READ_USAGE,
        Permission.READ_GRAPHS,
        Permission.SHARE_GRAPHS,
    }
)
ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(Permission),
    Role.TEACHER: _TEACHER,
    Role.STUDENT: frozenset({Permission.START_RUNS, Permission.READ_OWN_RUNS, Permission.READ_GRAPHS}),
}


def parse_role(value: object) -> Role:
    """A role from text, or ValueError naming the three there are."""
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise ValueError(f"role must be one of {', '.join(r.value for r in Role)}, not {value!r}") from None


def subject_of(member: str, fallback: str) -> str:
    """The subject a credential acts as: its member when it has one, else ``fallback``."""
    return f"member:{member}" if member else fallback


@dataclass(frozen=True, slots=True)
class Credential:
    """What a store knows of a live credential: whose it is and which role it carries.

    Attributes:
        tenant: The tenant the credential belongs to.
        role: Its role in that tenant.
        member: The member it was issued to (``""`` for a key with no member, e.g. from the CLI).
        subject: Who acts, stable across a member's keys: ``member:<id>``, ``key:<id>`` or
            ``principal:<object id>``. Runs record it, so a student sees only their own.
    """

    tenant: Tenant
    role: Role
    member: str
    subject: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One API key as a tenant admin sees it: never the key, only its id and metadata."""

    id: str
    label: str
    role: Role
    member: str
    issued_at: str
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request acts as: the tenant, the role, and the subject runs are recorded under."""

    tenant: Tenant
    role: Role
    subject: str
    member: str = ""

    @classmethod
    def of(cls, credential: Credential) -> Caller:
        return cls(credential.tenant, credential.role, credential.subject, credential.member)

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]
