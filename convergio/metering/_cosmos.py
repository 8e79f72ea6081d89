"""The Azure usage ledger: Azure Cosmos DB for NoSQL through ``azure-cosmos``.

One document per usage record, ``id`` = the record's deterministic id, in a container
partitioned by ``/tenant_id`` (created by the infrastructure, not here: the app's
identity has data-plane rights only). Writes are ``create_item``, and a 409 means the id
is stored already: the first record of an id is kept, as in SQLite, so a retried or
redelivered activity can neither bill twice nor rewrite what was billed with a re-sent
call's numbers. Queries are parameterised and name the tenant's partition both in the
WHERE clause and as ``partition_key``. Backend failures are
:class:`~convergio.errors.StoreUnavailable` (HTTP 503).

``azure-cosmos`` and ``azure-identity`` are imported only when a client is built, so
the embedded default (SQLite) never loads them. Local (key) auth is disabled on the
account: the client authenticates with Entra ID (``DefaultAzureCredential`` unless a
credential is given).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from convergio.controlplane import unavailable

from ._ledger import run_totals, time_bounds
from ._record import UsageRecord

__all__ = ["CosmosLedger"]

_CONFLICT: Final = 409
_STORE: Final = "usage"


class CosmosLedger:
    """Usage records as Cosmos DB documents, partitioned by tenant.

    Args:
        container: An ``azure.cosmos.ContainerProxy`` whose partition key path is ``/tenant_id``.
    """

    def __init__(self, container: Any) -> None:
        self.container = container

    @classmethod
    def connect(
        cls,
        endpoint: str,
        database: str,
        container_name: str,
        *,
        credential: Any = None,
        transport: Any = None,
    ) -> CosmosLedger:
        """Build the client for an account and open the ledger's container.

        Args:
            endpoint: The account endpoint, ``https://<account>.documents.azure.com:443/``.
            database: The database name.
            container_name: The container name (partition key ``/tenant_id``).
            credential: An Entra ID ``TokenCredential``; ``DefaultAzureCredential()`` when None.
            transport: An ``azure.core`` ``HttpTransport`` (tests pass a recording one).

        Returns:
            The ledger.

        Raises:
            ValueError: If a name is empty.
        """
        for name, value in (
            ("endpoint", endpoint),
            ("database", database),
            ("container_name", container_name),
        ):
            if not value:
                raise ValueError(f"{name} must not be empty")
        from azure.cosmos import CosmosClient

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        options: dict[str, Any] = {} if transport is None else {"transport": transport}
        client = CosmosClient(endpoint, credential=credential, **options)
        return cls(client.get_database_client(database).get_container_client(container_name))

    def record(self, records: Sequence[UsageRecord]) -> int:
        """Create one document per record; an id already stored keeps its first record.

        Args:
            records: The records.

        Returns:
            How many documents were created (a 409, the id already stored, is not one).
        """
        from azure.cosmos.exceptions import CosmosHttpResponseError

        created = 0
        with unavailable(_STORE):
            for record in records:
                try:
                    self.container.create_item(record.to_json())
                except CosmosHttpResponseError as exc:
                    if exc.status_code != _CONFLICT:
                        raise
                else:
                    created += 1
        return created

    def query(
        self,
        tenant_id: str,
        *,
        start: str | None = None,
        end: str | None = None,
        run_id: str | None = None,
    ) -> list[UsageRecord]:
        """A tenant's records, oldest first (by ``at``, then ``id``), from its partition only.

        Args:
            tenant_id: The tenant (the partition key).
            start: Inclusive lower bound on ``at`` (ISO 8601 with offset, or a date).
            end: Exclusive upper bound on ``at``.
            run_id: Only this run's records.

        Returns:
            The matching records.

        Raises:
            ValueError: If a bound is malformed.
        """
        low, high = time_bounds(start, end)
        sql = "SELECT * FROM c WHERE c.tenant_id = @t"
        parameters: list[dict[str, Any]] = [{"name": "@t", "value": tenant_id}]
        for clause, name, value in (
            ("c.at >= @from", "@from", low),
            ("c.at < @to", "@to", high),
            ("c.run_id = @run", "@run", run_id),
        ):
            if value is not None:
                sql += f" AND {clause}"
                parameters.append({"name": name, "value": value})
        with unavailable(_STORE):
            items = self.container.query_items(query=sql, parameters=parameters, partition_key=tenant_id)
            records = [UsageRecord.from_json(item) for item in items]
        records.sort(key=lambda record: (record.at, record.id))
        return records

    def get(self, tenant_id: str, ids: Sequence[str], *, run_id: str | None = None) -> list[UsageRecord]:
        """The stored records with these ids, from one parameterised query in the tenant's partition.

        Args:
            tenant_id: The tenant (the partition key).
            ids: Record ids.
            run_id: The run of the ids, when known: the query is the same (ids are documents'
                ids); only that run's records answer.

        Returns:
            The stored records among them.
        """
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        with unavailable(_STORE):
            items = self.container.query_items(
                query="SELECT * FROM c WHERE c.tenant_id = @t AND ARRAY_CONTAINS(@ids, c.id)",
                parameters=[{"name": "@t", "value": tenant_id}, {"name": "@ids", "value": unique}],
                partition_key=tenant_id,
            )
            found = [UsageRecord.from_json(item) for item in items]
        return found if run_id is None else [record for record in found if record.run_id == run_id]

    def run_costs(self, tenant_id: str, run_ids: Sequence[str]) -> dict[str, Decimal]:
        """Total cost per run, from one parameterised query in the tenant's partition.

        Only ``run_id`` and ``cost`` are read; costs are decimal strings, so they are summed
        here exactly rather than by Cosmos ``SUM`` (which works on numbers only).

        Args:
            tenant_id: The tenant (the partition key).
            run_ids: The runs.

        Returns:
            Every asked run id mapped to its total cost (0 when it has no records).
        """
        unique = list(dict.fromkeys(run_ids))
        if not unique:
            return {}
        with unavailable(_STORE):
            items = self.container.query_items(
                query="SELECT c.run_id, c.cost FROM c"
                " WHERE c.tenant_id = @t AND ARRAY_CONTAINS(@ids, c.run_id)",
                parameters=[{"name": "@t", "value": tenant_id}, {"name": "@ids", "value": unique}],
                partition_key=tenant_id,
            )
            return run_totals(unique, ((str(item["run_id"]), str(item["cost"])) for item in items))
