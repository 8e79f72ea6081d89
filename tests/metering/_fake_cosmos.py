"""A fake Cosmos DB account behind azure-core's pluggable transport: no network.

It records every request the SDK makes and answers the few the ledger needs with the
JSON a real account returns: the database account (regions), the container (partition
key ``/tenant_id``), document creates (201 created / 409 conflict) and upserts, and
single-partition queries. Only what the emulator cannot show is tested over it: the Entra ID
token on every request and the exact wire form of a query.
"""

from __future__ import annotations

import json
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpRequest, HttpResponse, HttpTransport

ENDPOINT = "https://convergio-test.documents.azure.com:443/"


class FakeCredential:
    """An Entra ID token credential that hands out a fixed token."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("fake-entra-token", 4_102_444_800)


class CannedResponse(HttpResponse):
    """A complete, in-memory HTTP response."""

    def __init__(self, request: HttpRequest, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(request, None)
        self.status_code = status
        self.reason = "Created" if status == 201 else "OK"
        self.content_type = "application/json"
        self.headers = {"content-type": "application/json", "x-ms-request-charge": "1", **(headers or {})}
        self._body = json.dumps(body).encode()

    def body(self) -> bytes:
        return self._body


def _text(data: Any) -> str:
    return data.decode() if isinstance(data, bytes) else str(data)


class FakeCosmosTransport(HttpTransport):
    """Records requests; keeps documents per (database, container, partition key, id)."""

    def __init__(self, database: str = "convergio", container: str = "usage") -> None:
        self.database, self.container = database, container
        self.requests: list[HttpRequest] = []
        self.documents: dict[tuple[str, str], dict[str, Any]] = {}

    def __enter__(self) -> FakeCosmosTransport:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        self.requests.append(request)
        path = request.url.removeprefix(ENDPOINT.rstrip("/")).removeprefix("/").rstrip("/")
        collection = f"dbs/{self.database}/colls/{self.container}"
        if request.method == "GET" and path == "":
            return CannedResponse(request, 200, self._account())
        if request.method == "GET" and path == collection:
            return CannedResponse(request, 200, self._container())
        if request.method == "POST" and path == f"{collection}/docs":
            partition = json.loads(request.headers["x-ms-documentdb-partitionkey"])[0]
            if request.headers.get("x-ms-documentdb-isquery") == "true":
                return self._query(request, partition)
            document = json.loads(_text(request.data))
            assert document["tenant_id"] == partition
            upsert = request.headers.get("x-ms-documentdb-is-upsert") == "True"
            created = (partition, document["id"]) not in self.documents
            if not created and not upsert:
                return CannedResponse(request, 409, {"code": "Conflict", "message": "fake: id exists"})
            stored = {**document, "_rid": "x", "_etag": '"1"', "_ts": 1_800_000_000}
            self.documents[partition, document["id"]] = stored
            return CannedResponse(request, 201 if created else 200, stored)
        return CannedResponse(request, 404, {"code": "NotFound", "message": f"fake: {request.method} {path}"})

    def _query(self, request: HttpRequest, partition: str) -> HttpResponse:
        body = json.loads(_text(request.data))
        params = {p["name"]: p["value"] for p in body.get("parameters", [])}
        sql = body["query"]
        found = [
            d for (p, _), d in self.documents.items() if p == partition and d["tenant_id"] == params["@t"]
        ]
        if "@from" in sql:
            found = [d for d in found if d["at"] >= params["@from"]]
        if "@to" in sql:
            found = [d for d in found if d["at"] < params["@to"]]
        if "@run" in sql:
            found = [d for d in found if d["run_id"] == params["@run"]]
        if "@ids" in sql:  # ARRAY_CONTAINS(@ids, c.run_id)
            found = [d for d in found if d["run_id"] in params["@ids"]]
        page = {"_rid": "x", "Documents": found, "_count": len(found)}
        return CannedResponse(request, 200, page, {"x-ms-item-count": str(len(found))})

    @staticmethod
    def _account() -> dict[str, Any]:
        location = [{"name": "West Europe", "databaseAccountEndpoint": ENDPOINT}]
        return {
            "id": "convergio-test",
            "_self": "",
            "writableLocations": location,
            "readableLocations": location,
            "enableMultipleWriteLocations": False,
            "userReplicationPolicy": {"minReplicaSetSize": 3, "maxReplicasetSize": 4},
            "userConsistencyPolicy": {"defaultConsistencyLevel": "Session"},
            "queryEngineConfiguration": "{}",
        }

    def _container(self) -> dict[str, Any]:
        return {
            "id": self.container,
            "_rid": "AbCdEf==",
            "_self": "dbs/AbCd==/colls/AbCdEf==/",
            "partitionKey": {"paths": ["/tenant_id"], "kind": "Hash", "version": 2},
        }
