"""Bodies of the routes of ADR 0022: claiming the installation, who am I, tenants, members, keys.

Inputs forbid unknown fields and strip names; a name that is blank after stripping, a tenant
name with no letter or digit to make an id from, or a blank principal id is a 400 naming the
field. The setup code is a ``SecretStr``: it never shows in a repr or a log line.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from convergio.tenants import tenant_id_for

from ._models import ApiModel

__all__ = [
    "OPENAPI_MODELS",
    "BudgetIn",
    "ClaimIn",
    "KeyCreated",
    "KeyIn",
    "KeyList",
    "KeyView",
    "MeView",
    "MemberCreated",
    "MemberIn",
    "MemberList",
    "MemberView",
    "RoleName",
    "SetupState",
    "ShareView",
    "TenantCreated",
    "TenantIn",
    "TenantList",
    "TenantRef",
]

RoleName = Literal["admin", "teacher", "student"]
_EUR = r"^\d{1,9}(\.\d{1,2})?$"


def _named(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must not be blank")
    return text


def _tenant_name(value: str) -> str:
    text = _named(value)
    tenant_id_for(text)  # ValueError names what is missing: a letter or digit to make an id from
    return text


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_named)]
TenantName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_tenant_name)]


class _In(ApiModel):
    model_config = ConfigDict(extra="forbid")


class SetupState(ApiModel):
    claimed: bool = Field(description="true once someone claimed the installation (or the CLI made tenants)")


class ClaimIn(_In):
    """Claim a fresh installation: the one-time setup code, the school's name, the first admin's."""

    code: SecretStr = Field(min_length=1, max_length=200, description="the one-time setup code")
    tenant_name: TenantName = Field(description="the school's (first tenant's) name")
    admin_name: Name = Field(description="the first admin's name")


class TenantRef(ApiModel):
    id: str
    name: str
    created_at: str | None = None


class MemberView(ApiModel):
    id: str
    name: str
    role: RoleName
    principal_id: str | None = Field(default=None, description="the mapped Entra object id, if any")
    created_at: str = ""


class TenantCreated(ApiModel):
    """A new tenant, its first admin, and that admin's API key: shown in this answer only."""

    tenant: TenantRef
    member: MemberView
    key: str


class MeView(ApiModel):
    """Who the credential acts as, and what it may do: the console shows and hides by this."""

    tenant: TenantRef
    role: RoleName
    subject: str = Field(description="whom runs are recorded under: member:<id>, key:<id> or principal:<id>")
    member: MemberView | None = None
    home: bool = Field(description="the tenant is the installation's home: its admins may create tenants")
    permissions: list[str] = Field(description="what the role may do, as the 403 messages name it")


class TenantIn(_In):
    name: TenantName
    admin_name: Name = Field(description="the new tenant's first admin")


class TenantList(ApiModel):
    tenants: list[TenantRef]


class MemberIn(_In):
    """Invite a member: with ``principal_id`` they sign in with Entra ID, else they get a key."""

    name: Name
    role: RoleName
    principal_id: Name | None = Field(default=None, description="an Entra object id")


class MemberCreated(ApiModel):
    member: MemberView
    key: str | None = Field(default=None, description="the member's API key (no principal): shown once")


class MemberList(ApiModel):
    members: list[MemberView]


class KeyIn(_In):
    """Issue an API key with a role; with ``member``, for that member (their role)."""

    label: str = Field(default="", max_length=200)
    role: RoleName
    member: str | None = Field(default=None, min_length=1, max_length=64, description="a member's id")


class KeyView(ApiModel):
    """An API key as an admin sees it: its public id, never the key."""

    id: str = Field(description="the first 16 hex digits of the key's SHA-256 digest")
    label: str
    role: RoleName
    member: str
    issued_at: str
    revoked_at: str | None = None


class KeyCreated(KeyView):
    key: str = Field(description="the key itself: shown in this answer only")


class KeyList(ApiModel):
    keys: list[KeyView]


class BudgetIn(_In):
    """A tenant's monthly limits (as the CLI's ``tenants budget`` sets them), EUR as decimal strings."""

    monthly_eur: str | None = Field(pattern=_EUR, description="the monthly limit on all spending; null: none")
    managed_enabled: bool = Field(default=False, description="whether agents may use managed keys")
    managed_cap_eur: str = Field(default="0", pattern=_EUR, description="the monthly managed-key cap")


class ShareView(ApiModel):
    graph: str
    shared: bool = Field(description="whether students of the tenant may see and start the graph")


OPENAPI_MODELS: list[type[BaseModel]] = [
    SetupState,
    ClaimIn,
    TenantCreated,
    MeView,
    TenantIn,
    TenantList,
    MemberIn,
    MemberCreated,
    MemberList,
    KeyIn,
    KeyCreated,
    KeyList,
    BudgetIn,
    ShareView,
]
