"""The tenant store's interface: what both adapters (SQLite embedded, Cosmos DB on Azure) keep.

Several stateless instances may share one store, so the contract is stated for all of them
at once: nothing is cached, a key issued or revoked on one instance is seen on the next request
to any other, a tenant id is created once, and a run belongs to one tenant for good.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol, runtime_checkable

from convergio.tenants._models import RunRecord, Tenant
from convergio.tenants._roles import Credential, KeyInfo, Role

__all__ = ["TenantRecords", "TenantStore", "canonical_principal", "check_kind", "check_page"]

_KIND: Final = re.compile(r"[a-z][a-z_]{0,31}")
# Document types the Cosmos adapter uses for its own bookkeeping, so no record kind may take them.
RESERVED_KINDS: Final = frozenset({"tenant", "key", "run", "principal"})


def _now() -> str:
    # Fixed width (always microseconds, always +00:00), so text order is time order.
    return datetime.now(UTC).isoformat(timespec="microseconds")


def canonical_principal(principal_id: str) -> str:
    """Entra object ids are GUIDs: write them one way, whatever case the operator pasted."""
    text = principal_id.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        # Other identity providers' ids may be case-sensitive: keep them exactly.
        return text


def check_page(limit: int, offset: int) -> None:
    """Refuse a page of the run index that cannot be served.

    Raises:
        ValueError: ``limit`` is below 1 or ``offset`` below 0.
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    if offset < 0:
        raise ValueError("offset must be >= 0")


def check_kind(kind: str) -> str:
    """The kind of a :class:`TenantRecords` family, if it is ``[a-z][a-z_]{0,31}`` and not reserved."""
    if _KIND.fullmatch(kind) is None or kind in RESERVED_KINDS:
        raise ValueError(
            f"record kind {kind!r} must be 1-32 of a-z and '_', and not one of {sorted(RESERVED_KINDS)}"
        )
    return kind


@runtime_checkable
class TenantRecords(Protocol):
    """One family of a tenant's named metadata records (provider connections, MCP servers...).

    Bodies are JSON objects the caller owns; the store keeps them whole, by (tenant, name).
    """

    def put(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> None:
        """Create or replace a record.

        Raises:
            UnknownTenant: No tenant has this id.
        """
        ...

    def create(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> bool:
        """Create a record unless one exists: True when this call created it (atomic on every instance).

        Raises:
            UnknownTenant: No tenant has this id.
        """
        ...

    def get(self, tenant_id: str, name: str) -> dict[str, Any] | None:
        """The record's body, or None."""
        ...

    def items(self, tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
        """A tenant's records as (name, body), ordered by name."""
        ...

    def list(self, tenant_id: str) -> list[dict[str, Any]]:
        """A tenant's record bodies, ordered by name."""
        ...

    def delete(self, tenant_id: str, name: str) -> bool:
        """Remove a record; False when there was none."""
        ...

    def delete_if(self, tenant_id: str, name: str, body: Mapping[str, Any]) -> bool:
        """Remove a record only while its body is still ``body``; True when this call removed it.

        For clean-ups that decide from a body they read: a record rewritten in between (another
        instance put a new body) is kept.
        """
        ...


@runtime_checkable
class TenantStore(Protocol):
    """Tenants, their API key digests, Entra ID principals, the run index and tenant records."""

    def add_tenant(self, name: str) -> tuple[Tenant, str]:
        """Register a tenant and issue its first API key (labelled ``initial``).

        The id is derived from the name (see :func:`~convergio.tenants.tenant_id_for`); the key
        is shown only here, the store keeps its SHA-256 digest.

        Raises:
            ValueError: The name is blank or yields no id.
            TenantExists: A tenant with the same id exists (also when another instance won a race).
        """
        ...

    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant with this id, or None."""
        ...

    def list_tenants(self) -> list[Tenant]:
        """Every tenant, ordered by id."""
        ...

    def issue_key(self, tenant_id: str, *, label: str = "", role: Role = Role.ADMIN, member: str = "") -> str:
        """Issue one more API key (only its digest is stored, so it cannot be shown again).

        Args:
            tenant_id: The tenant the key acts for.
            label: A free label, shown in key listings.
            role: The role the key carries in the tenant.
            member: The member the key is issued to (its runs are recorded under the member).

        Raises:
            UnknownTenant: No tenant has this id.
        """
        ...

    def revoke_keys(self, tenant_id: str, *, label: str | None = None, member: str | None = None) -> int:
        """Revoke a tenant's live keys (all, or by ``label`` or ``member``), on every instance at once.

        Returns:
            How many keys this call revoked (keys revoked earlier are not counted again).

        Raises:
            UnknownTenant: No tenant has this id.
        """
        ...

    def revoke_key(self, tenant_id: str, key_id: str) -> bool:
        """Revoke one key by its id; False when the tenant has no live key with that id."""
        ...

    def list_keys(self, tenant_id: str) -> list[KeyInfo]:
        """A tenant's keys, live and revoked, oldest first (never the keys themselves)."""
        ...

    def identify(self, key: str) -> Credential | None:
        """The tenant and role of a live API key, or None for a malformed, unknown or revoked key."""
        ...

    def authenticate(self, key: str) -> Tenant | None:
        """The tenant owning a live API key, or None for a malformed, unknown or revoked key."""
        ...

    def map_principal(
        self, principal_id: str, tenant_id: str, *, role: Role = Role.ADMIN, member: str = ""
    ) -> None:
        """Map an Entra ID principal (object id) to a tenant and role, replacing any earlier mapping.

        Raises:
            ValueError: The principal id is blank.
            UnknownTenant: No tenant has this id.
        """
        ...

    def unmap_principal(self, principal_id: str, tenant_id: str) -> bool:
        """Remove a principal's mapping to this tenant; False when it was not mapped to it."""
        ...

    def tenant_for_principal(self, principal_id: str) -> Tenant | None:
        """The tenant a principal is mapped to, or None."""
        ...

    def principal(self, principal_id: str) -> Credential | None:
        """The tenant and role a principal is mapped to, or None."""
        ...

    def record_run(
        self,
        tenant_id: str,
        run_id: str,
        graph_name: str,
        *,
        created_at: str | None = None,
        started_by: str = "",
    ) -> None:
        """Record that a tenant started a run (status ``Pending``); recording it again is a no-op.

        Args:
            tenant_id: The tenant that started the run.
            run_id: The orchestration instance id.
            graph_name: The graph the run executes.
            created_at: ISO-8601 UTC time of the start; now when omitted.
            started_by: Who started it (the caller's subject), so a list can show only theirs.

        Raises:
            UnknownTenant: No tenant has this id.
            ValueError: The run is already recorded for another tenant (on any instance).
        """
        ...

    def update_run(
        self,
        run_id: str,
        *,
        status: str,
        finished_at: str | None = None,
        usage: Mapping[str, int] | None = None,
        cancelled_by: str | None = None,
        cancel_reason: str | None = None,
    ) -> bool:
        """Write a run's new state into its entry; an ended run never goes back to going.

        Writes may arrive late or out of order (a start's ``Running`` after a fast run's end,
        a cancel racing the end): a non-finished status over a finished one is dropped, so
        every order ends in a finished state.

        Args:
            run_id: The run.
            status: One of Pending, Running, Completed, Failed, Terminated.
            finished_at: When it ended (finished statuses; now when omitted, or the end already
                recorded).
            usage: Token counts (``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
                ``tool_calls``); None keeps those recorded.
            cancelled_by: Who cancelled the run (with ``Terminated``); None keeps what is recorded.
            cancel_reason: The reason they gave: caller text, kept as ``cancel_note`` makes it.

        Returns:
            True when the entry changed; False when it is not indexed or nothing changed.

        Raises:
            ValueError: ``status`` is not one of those.
        """
        ...

    def note_waits(self, run_id: str, *, seq: int, target: Mapping[str, int]) -> bool:
        """The run's orchestration announces its waits for human input (``_runs.announced_waits``).

        Args:
            run_id: The run.
            seq: The announcement's number in the run; an older or repeated one changes nothing.
            target: Event name -> events its waits have needed so far (consumed plus open).

        Returns:
            True when the entry changed.
        """
        ...

    def note_answer(self, run_id: str, name: str) -> bool:
        """The API raised one event ``name`` into the run (``_runs.answered_waits``); True when it changed."""
        ...

    def forget_run(self, run_id: str) -> None:
        """Remove a run from the index (for example after it is purged); unknown ids are ignored."""
        ...

    def owner_of(self, run_id: str) -> str | None:
        """The id of the tenant that started a run, or None if the run is not indexed."""
        ...

    def run(self, run_id: str) -> RunRecord | None:
        """A run's index entry (owner, graph, start time, state), or None if the run is not indexed."""
        ...

    def list_runs(
        self,
        tenant_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        status: str | None = None,
        started_by: str | None = None,
        before: str | None = None,
        awaiting_input: bool | None = None,
    ) -> list[RunRecord]:
        """A page of a tenant's runs, newest first (by ``created_at``, then the later recorded).

        One indexed query whatever the tenant's number of runs or the filter; ``offset`` counts
        within the filtered runs, after ``before``.

        Args:
            tenant_id: The tenant.
            limit: At most this many entries.
            offset: Skip this many first.
            status: Only runs with this status (``""``: entries whose status is not known yet).
            started_by: Only runs this subject started.
            before: Only runs after this entry in the order (an entry's ``cursor``): the next page.
            awaiting_input: Only runs that wait (True) or do not wait (False) for human input.

        Raises:
            ValueError: ``limit`` below 1, ``offset`` below 0, an unknown ``status``, or a
                ``before`` that is no entry's cursor (the message starts with the argument's name).
        """
        ...

    def count_runs(self, tenant_id: str) -> int:
        """How many runs a tenant has in the index."""
        ...

    def runs_between(
        self, tenant_id: str, *, since: str = "", before: str, limit: int, offset: int = 0
    ) -> list[RunRecord]:
        """A page of a tenant's runs with ``since <= created_at < before``, oldest first (retention).

        Raises:
            ValueError: ``limit`` is below 1 or ``offset`` below 0.
        """
        ...

    def claim_installation(self, tenant_id: str, member_id: str) -> bool:
        """Record that the installation is claimed, for its home tenant and first admin, unless it is.

        Create-first on every instance at once: of any number of concurrent calls exactly one
        returns True, and every later one False; a claim is never replaced. The tenant need not
        exist yet: the claim comes before the tenant, so the loser of a race creates nothing.

        Args:
            tenant_id: The home tenant the claim creates (its admins may create other tenants).
            member_id: The member id of the claiming, first admin.
        """
        ...

    def installation_claim(self) -> dict[str, str] | None:
        """The claim, ``{"tenant_id", "member_id", "claimed_at"}``, or None while there is none."""
        ...

    def records(self, kind: str) -> TenantRecords:
        """One family of tenant records, stored beside the tenants (same file or container).

        Raises:
            ValueError: ``kind`` is not ``[a-z][a-z_]{0,31}`` or is reserved.
        """
        ...
