"""From request headers to a tenant: an API key, or an App Service Authentication principal."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from convergio.tenants._models import Tenant
from convergio.tenants._roles import Credential
from convergio.tenants._store import TenantStore

__all__ = ["authenticate_headers", "credential_of"]

_API_KEY = "x-api-key"
_PRINCIPAL = "x-ms-client-principal"
_PRINCIPAL_ID = "x-ms-client-principal-id"
_OID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
# App Service sends a few KB at most; refuse to decode anything far larger.
_MAX_PRINCIPAL_CHARS = 64 * 1024


def _object_id(encoded: str) -> str | None:
    """Read the object id claim of an ``X-MS-CLIENT-PRINCIPAL`` value.

    Returns:
        The object id, or None when the value is well formed but carries no such claim.

    Raises:
        ValueError: The value is not base64-encoded JSON of the expected shape.
    """
    if len(encoded) > _MAX_PRINCIPAL_CHARS:
        raise ValueError("principal header too large")
    # Bad base64, UTF-8 and JSON all raise ValueError subclasses; deep nesting raises RecursionError.
    try:
        principal = json.loads(base64.b64decode(encoded.strip(), validate=True))
    except RecursionError as exc:
        raise ValueError("principal header nests too deeply") from exc
    claims = principal.get("claims") if isinstance(principal, dict) else None
    if not isinstance(claims, list):
        raise ValueError("principal header has no claims list")
    for wanted in _OID_CLAIMS:
        for claim in claims:
            if isinstance(claim, dict) and claim.get("typ") == wanted:
                value = claim.get("val")
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("principal object id claim has no value")
                return value
    return None


def authenticate_headers(
    headers: Mapping[str, str], store: TenantStore, *, trust_principal_headers: bool = False
) -> Tenant | None:
    """The tenant of :func:`credential_of`'s credential, or None."""
    found = credential_of(headers, store, trust_principal_headers=trust_principal_headers)
    return None if found is None else found.tenant


def credential_of(
    headers: Mapping[str, str], store: TenantStore, *, trust_principal_headers: bool = False
) -> Credential | None:
    """Find the tenant a request acts for, from its headers (names compared case-insensitively).

    ``x-api-key`` is looked at first. A request that presents a key is judged by that key alone:
    a wrong or revoked key gives None even if other headers would identify a tenant.

    Without a key, and only when ``trust_principal_headers`` is True, the App Service
    Authentication ("Easy Auth") headers are used: the object id claim (``oid``) of the
    base64-encoded JSON ``X-MS-CLIENT-PRINCIPAL``, or else ``X-MS-CLIENT-PRINCIPAL-ID``, is
    mapped to a tenant with :meth:`TenantStore.tenant_for_principal`. These headers can be
    trusted only because App Service, when authentication is enabled, strips any copies the
    client sent and sets them itself; anywhere else (the embedded host, another proxy) a client
    can forge them, so leave the flag off there.

    Args:
        headers: The request headers.
        store: The tenant store.
        trust_principal_headers: Accept the Easy Auth principal headers (only on App Service with
            authentication enabled).

    Returns:
        The credential (tenant, role, subject), or None when the request identifies none.
        Malformed headers give None; this function does not raise on any header value.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    key = lowered.get(_API_KEY)
    if key is not None:
        return store.identify(key.strip())
    if not trust_principal_headers:
        return None
    principal_id: str | None = None
    encoded = lowered.get(_PRINCIPAL)
    if encoded is not None:
        try:
            principal_id = _object_id(encoded)
        except ValueError:
            # A damaged principal is not a reason to fall back to a weaker header: refuse.
            return None
    if principal_id is None:
        principal_id = lowered.get(_PRINCIPAL_ID, "").strip() or None
    return store.principal(principal_id) if principal_id else None
