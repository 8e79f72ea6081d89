"""A Key Vault stand-in plugged into azure-core as the HTTP transport of a real ``SecretClient``.

It records every request the SDK sends and answers with Key Vault's JSON shapes: the challenge
401 for unauthenticated requests, secret bundles, 404/409 errors, soft delete and recovery, and
paged listings. It is not a vault: just enough of the wire protocol to check what the adapter asks.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import case_insensitive_dict


def new_vault_url() -> str:
    """A vault URL no test used before: the SDK caches challenges per host, process-wide."""
    return f"https://kv-{uuid.uuid4().hex[:12]}.vault.azure.net"


CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/tenant", resource="https://vault.azure.net"'
)
_REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}


class FakeCredential:
    """A token credential that hands out a fixed token and records what was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(self, *scopes: str, tenant_id: str | None = None, **_: Any) -> AccessToken:
        self.calls.append((scopes, tenant_id))
        return AccessToken("fake-access-token", int(time.time()) + 3600)


@dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)


class _Closed:
    def close(self) -> None:
        pass


class _Response(HttpResponseImpl):
    def __init__(self, request: HttpRequest, status: int, body: Any, headers: dict[str, str]) -> None:
        all_headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        super().__init__(
            request=request,
            internal_response=_Closed(),
            status_code=status,
            reason=_REASONS.get(status, "Error"),
            content_type=all_headers["Content-Type"],
            headers=case_insensitive_dict(all_headers),
            stream_download_generator=None,
        )
        self._content = b"" if body is None else json.dumps(body).encode()


@dataclass
class _Stored:
    value: str
    tags: dict[str, str] | None
    version: str
    updated: int


@dataclass
class FakeVault(HttpTransport):
    """The transport: ``requests`` is every request sent, in order."""

    url: str = field(default_factory=new_vault_url)
    page_size: int = 2
    forbid: bool = False
    requests: list[Recorded] = field(default_factory=list)
    secrets: dict[str, _Stored] = field(default_factory=dict)
    deleted: dict[str, _Stored] = field(default_factory=dict)
    clock: int = 1_700_000_000

    # HttpTransport plumbing
    def __enter__(self) -> FakeVault:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def sleep(self, duration: float) -> None:  # pollers wait through the transport
        pass

    # the service
    def send(self, request: HttpRequest, **kwargs: Any) -> _Response:
        content = request.content
        body = content.decode() if isinstance(content, bytes) else (content or "")
        rec = Recorded(request.method, request.url, dict(request.headers), body)
        self.requests.append(rec)
        if "Authorization" not in request.headers:
            return _Response(request, 401, None, {"WWW-Authenticate": CHALLENGE})
        assert request.headers["Authorization"] == "Bearer fake-access-token"
        if self.forbid:
            return self._error(
                request, 403, "Forbidden", "Caller is not authorized to perform action on resource."
            )
        parts = [p for p in rec.path.split("/") if p]
        match (rec.method, parts):
            case ("PUT", ["secrets", name]):
                return self._put(request, name, json.loads(body))
            case ("GET", ["secrets"]):
                return self._list(request, rec)
            case ("GET", ["secrets", name, *_]):
                return self._get(request, name)
            case ("DELETE", ["secrets", name]):
                return self._delete(request, name)
            case ("GET", ["deletedsecrets", name]):
                if name not in self.deleted:
                    return self._error(request, 404, "SecretNotFound", f"Deleted Secret not found: {name}")
                return _Response(request, 200, self._deleted_bundle(name, self.deleted[name]), {})
            case ("POST", ["deletedsecrets", name, "recover"]):
                stored = self.deleted.pop(name)
                self.secrets[name] = stored
                return _Response(request, 200, self._bundle(name, stored, with_value=False), {})
        return self._error(request, 400, "BadParameter", f"unexpected {rec.method} {rec.path}")

    def _put(self, request: HttpRequest, name: str, params: dict[str, Any]) -> _Response:
        if name in self.deleted:
            message = f"Secret {name} is currently in a deleted but recoverable state"
            return self._error(request, 409, "Conflict", message)
        self.clock += 1
        version = f"v{self.clock}"
        self.secrets[name] = _Stored(params["value"], params.get("tags"), version, self.clock)
        return _Response(request, 200, self._bundle(name, self.secrets[name], with_value=True), {})

    def _get(self, request: HttpRequest, name: str) -> _Response:
        if name not in self.secrets:
            message = f"A secret with (name/id) {name} was not found in this key vault."
            return self._error(request, 404, "SecretNotFound", message)
        return _Response(request, 200, self._bundle(name, self.secrets[name], with_value=True), {})

    def _delete(self, request: HttpRequest, name: str) -> _Response:
        if name not in self.secrets:
            message = f"A secret with (name/id) {name} was not found in this key vault."
            return self._error(request, 404, "SecretNotFound", message)
        self.deleted[name] = self.secrets.pop(name)
        return _Response(request, 200, self._deleted_bundle(name, self.deleted[name]), {})

    def _list(self, request: HttpRequest, rec: Recorded) -> _Response:
        names = sorted(self.secrets)
        start = int(rec.query.get("$skiptoken", ["0"])[0])
        page = names[start : start + self.page_size]
        items = [
            {
                "id": f"{self.url}/secrets/{n}",
                "attributes": self._attributes(self.secrets[n]),
                "tags": self.secrets[n].tags,
            }
            for n in page
        ]
        more = start + self.page_size < len(names)
        next_link = (
            f"{self.url}/secrets?api-version=7.6&$skiptoken={start + self.page_size}" if more else None
        )
        return _Response(request, 200, {"value": items, "nextLink": next_link}, {})

    @staticmethod
    def _attributes(stored: _Stored) -> dict[str, Any]:
        return {
            "enabled": True,
            "created": stored.updated,
            "updated": stored.updated,
            "recoveryLevel": "Recoverable",
            "recoverableDays": 90,
        }

    def _bundle(self, name: str, stored: _Stored, *, with_value: bool) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "id": f"{self.url}/secrets/{name}/{stored.version}",
            "attributes": self._attributes(stored),
            "tags": stored.tags,
        }
        if with_value:
            bundle["value"] = stored.value
        return bundle

    def _deleted_bundle(self, name: str, stored: _Stored) -> dict[str, Any]:
        return {
            **self._bundle(name, stored, with_value=False),
            "recoveryId": f"{self.url}/deletedsecrets/{name}",
            "deletedDate": self.clock,
            "scheduledPurgeDate": self.clock + 90 * 86400,
        }

    @staticmethod
    def _error(request: HttpRequest, status: int, code: str, message: str) -> _Response:
        return _Response(request, status, {"error": {"code": code, "message": message}}, {})
