"""The ``http`` capability: one HTTP(S) request to a granted host, answered as JSON, never raising.

Only hosts listed in the tenant's grant are reachable (matched on the name, or name and port);
redirects are not followed (a 3xx comes back to the guest as it is), proxies from the
environment are ignored, bodies are cut at the grant's size, and every refusal or network
failure becomes ``{"error": {"code", "message"}}`` for the guest to handle. In hosted mode a
host must also resolve to public addresses only: a tenant cannot grant its plugin the cloud
metadata endpoint or the platform's own network. (The address is checked, then resolved again
by the HTTP client; DNS rebinding between the two is not prevented.)
"""

from __future__ import annotations

from typing import Any

from convergio.providers import check_endpoint

from ._manifest import HTTPCapability

__all__ = ["fetch"]

_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD"})
_MAX_REQUEST_BODY = 64 * 1024


def fetch(
    request: Any, grant: HTTPCapability, *, timeout_s: float, public_only: bool = False
) -> dict[str, Any]:
    """Perform a guest's request if its host is granted.

    Args:
        request: The decoded request: ``{"url", "method"?, "headers"?, "body"?}``.
        grant: The tenant's ``http`` grant.
        timeout_s: The timeout, already capped to the call's remaining wall time.
        public_only: Refuse hosts that are, or resolve to, non-public addresses.

    Returns:
        ``{"status", "headers", "body", "truncated"}`` or ``{"error": {"code", "message"}}``.
    """
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        return _error("bad_request", 'expected {"url": "...", "method"?, "headers"?, "body"?}')
    method = str(request.get("method", "GET")).upper()
    headers = request.get("headers", {})
    body = request.get("body")
    if method not in _METHODS:
        return _error("bad_request", f"method {method!r} not allowed")
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return _error("bad_request", "headers must be an object of strings")
    if body is not None and (not isinstance(body, str) or len(body) > _MAX_REQUEST_BODY):
        return _error("bad_request", f"body must be a string of at most {_MAX_REQUEST_BODY} characters")
    import httpx  # here, not at the top: httpx pulls rich and click into the app's cold start (issue 22)

    try:
        url = httpx.URL(request["url"])
    except (httpx.InvalidURL, ValueError):
        return _error("bad_request", "invalid url")
    if url.scheme not in ("http", "https") or not url.host:
        return _error("bad_request", "only http and https urls are allowed")
    host = url.host.lower()
    allowed = set(grant.hosts)
    if host not in allowed and f"{host}:{url.port}" not in allowed:
        return _error("host_not_granted", f"host {host!r} is not granted to this plugin")
    if public_only:
        try:
            check_endpoint(str(url), allowed_hosts=(), local_mode=False)
        except ValueError as exc:
            return _error("host_not_public", str(exc))
    timeout = max(0.001, min(timeout_s, grant.timeout_ms / 1000))
    try:
        with (
            httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout) as client,
            client.stream(method, url, headers=headers, content=body) as response,
        ):
            data = bytearray()
            truncated = False
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > grant.max_response_bytes:
                    truncated = True
                    del data[grant.max_response_bytes :]
                    break
            kept = {k: v for k, v in response.headers.items() if k.lower() in ("content-type", "location")}
            return {
                "status": response.status_code,
                "headers": kept,
                "body": data.decode("utf-8", errors="replace"),
                "truncated": truncated,
            }
    except httpx.TimeoutException:
        return _error("timeout", f"no answer within {timeout:.3f} s")
    except httpx.HTTPError as exc:
        return _error("network", type(exc).__name__)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
