"""Every HTTP route the app registers, by every role (ADR 0022): refused with a clear 403, or not refused.

The routes come from the app itself (``function_app.app``'s HTTP triggers), so a new route with
no line in ``EXPECTED`` fails here. The table is written out by hand from the ADR's permission
table, not imported from the code: the code's table is what this test checks.

What a row means, per caller (admin of the home tenant, teacher, student, no key):

- a set of roles: those roles are not refused (neither 401 nor 403); the others get 403
  ``forbidden`` whose message names their role; no key gets 401 ``unauthorized``.
- ``OPEN``: nobody is refused, with or without a key (the setup page, the OpenAPI document, the
  console's files, signed inbound hooks, MCP's non-POST methods).
- ``HOST``: the host's own function key guards it, so every API key and no key get 401.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import httpx
import pytest

from tests._helpers import HostProcess, app_functions
from tests.api.conftest import APP

CODE = "0b5e2c1a-7d3f-4e2a-9c1b-abcdef012345"
ROLES: Final = ("admin", "teacher", "student")
ADMIN: Final = frozenset({"admin"})
STAFF: Final = frozenset({"admin", "teacher"})
ANYONE: Final = frozenset(ROLES)
OPEN: Final = "open"
HOST: Final = "host"

EXPECTED: Final[dict[tuple[str, str], frozenset[str] | str]] = {
    # setup and identity
    ("GET", "v1/setup"): OPEN,
    ("POST", "v1/setup/claim"): OPEN,
    ("GET", "v1/me"): ANYONE,
    ("GET", "v1/tenants"): ADMIN,  # and only of the home tenant (test_claim)
    ("POST", "v1/tenants"): ADMIN,
    # the tenant's administration
    ("GET", "v1/tenants/me/members"): ADMIN,
    ("POST", "v1/tenants/me/members"): ADMIN,
    ("DELETE", "v1/tenants/me/members/{id}"): ADMIN,
    ("GET", "v1/tenants/me/keys"): ADMIN,
    ("POST", "v1/tenants/me/keys"): ADMIN,
    ("DELETE", "v1/tenants/me/keys/{id}"): ADMIN,
    ("GET", "v1/tenants/me/budget"): ADMIN,
    ("PUT", "v1/tenants/me/budget"): ADMIN,
    ("POST", "v1/tenants/me/overage-consent"): ADMIN,
    ("GET", "v1/tenants/me/connections"): ADMIN,
    ("GET", "v1/tenants/me/connections/{name}"): ADMIN,
    ("PUT", "v1/tenants/me/connections/{name}"): ADMIN,
    ("DELETE", "v1/tenants/me/connections/{name}"): ADMIN,
    ("GET", "v1/tenants/me/mcp-servers"): ADMIN,
    ("GET", "v1/tenants/me/mcp-servers/{name}"): ADMIN,
    ("PUT", "v1/tenants/me/mcp-servers/{name}"): ADMIN,
    ("DELETE", "v1/tenants/me/mcp-servers/{name}"): ADMIN,
    ("POST", "v1/tenants/me/mcp-servers/{name}/refresh"): ADMIN,
    ("GET", "v1/tenants/me/retention"): ADMIN,
    ("PUT", "v1/tenants/me/retention"): ADMIN,
    ("GET", "v1/plugins"): ADMIN,
    ("POST", "v1/plugins"): ADMIN,
    ("PUT", "v1/plugins/{name}/grants"): ADMIN,
    ("DELETE", "v1/plugins/{name}"): ADMIN,
    ("GET", "v1/hooks"): ADMIN,
    ("POST", "v1/hooks"): ADMIN,
    ("DELETE", "v1/hooks/{id}"): ADMIN,
    ("GET", "v1/callbacks"): ADMIN,
    ("POST", "v1/callbacks"): ADMIN,
    ("DELETE", "v1/callbacks/{id}"): ADMIN,
    ("GET", "v1/callbacks/{id}/deliveries"): ADMIN,
    # runs
    ("POST", "v1/runs"): ANYONE,  # a student: shared graphs only (test_members_students)
    ("GET", "v1/runs"): ANYONE,  # a student: their own runs only
    ("GET", "v1/runs/{id}"): ANYONE,
    ("GET", "v1/runs/{id}/graph"): ANYONE,
    ("GET", "v1/runs/{id}/outputs"): ANYONE,
    ("GET", "v1/runs/{id}/agents/{node}"): ANYONE,
    ("GET", "v1/runs/{id}/stream"): ANYONE,
    ("DELETE", "v1/runs/{id}"): ADMIN,  # purging is the tenant's data policy
    ("POST", "v1/runs/{id}/cancel"): STAFF,
    ("POST", "v1/runs/{id}/retry"): ANYONE,  # a student: their own runs only
    ("POST", "v1/runs/{id}/events/{name}"): STAFF,
    ("GET", "v1/usage"): STAFF,
    ("GET", "v1/usage/graphs"): STAFF,
    # graphs
    ("GET", "v1/graphs"): ANYONE,
    ("GET", "v1/graphs/{name}"): ANYONE,
    ("PUT", "v1/graphs/{name}/share"): STAFF,
    ("DELETE", "v1/graphs/{name}/share"): STAFF,
    ("GET", "v1/openapi.json"): OPEN,
    # protocols: an MCP client or an A2A peer reads and starts any run of the tenant
    ("POST", "mcp"): STAFF,
    ("GET", "mcp"): OPEN,  # 405: the server is stateless
    ("DELETE", "mcp"): OPEN,
    ("GET", "a2a/{graph}/{*rest}"): STAFF,
    ("POST", "a2a/{graph}/{*rest}"): STAFF,
    # signed by the hook's secret, not an API key
    ("POST", "v1/hooks/{id}"): OPEN,
    ("POST", "v1/hooks/{id}/runs/{run_id}"): OPEN,
    # the console's files, and the Durable samples' starter (a host function key)
    ("GET", "app/{*path}"): OPEN,
    ("POST", "orchestrators/{functionName}"): HOST,
}

# What each path parameter is filled with: names that exist where that makes the call go further.
FILL: Final = {
    "id": "0123456789abcdef",
    "run_id": "0123456789abcdef",
    "name": "lesson-plan",
    "graph": "lesson-plan",
    "node": "planner",
    "*rest": ".well-known/agent-card.json",
    "*path": "index.html",
    "functionName": "hello_sequence",
}


def registered_routes() -> set[tuple[str, str]]:
    """(method, route) of every HTTP trigger of the app, read from the app object itself."""
    routes = set()
    for function in app_functions():
        trigger = function.get_trigger()
        if trigger.type == "httpTrigger":
            routes |= {(str(getattr(m, "value", m)).upper(), trigger.route) for m in trigger.methods}
    return routes


def url_of(route: str) -> str:
    return "/api/" + re.sub(r"\{([^}]+)\}", lambda found: FILL[found.group(1)], route)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with HostProcess(APP, tmp_path_factory.mktemp("matrix-home"), {"CONVERGIO_SETUP_CODE": CODE}) as running:
        yield running


@pytest.fixture(scope="module")
def keys(host: HostProcess) -> dict[str, str | None]:
    """A key per role in the home tenant (the admin's from the claim, the others made by it)."""
    claim = {"code": CODE, "tenant_name": "Matrix School", "admin_name": "Root"}
    made = httpx.post(f"{host.base_url}/api/v1/setup/claim", json=claim, timeout=30)
    assert made.status_code == 201, made.text
    admin = str(made.json()["key"])
    found: dict[str, str | None] = {"admin": admin, "none": None}
    for role in ("teacher", "student"):
        issued = httpx.post(
            f"{host.base_url}/api/v1/tenants/me/keys",
            json={"label": role, "role": role},
            headers={"x-api-key": admin},
            timeout=30,
        )
        assert issued.status_code == 201, issued.text
        found[role] = str(issued.json()["key"])
    return found


def test_every_registered_route_has_an_expectation() -> None:
    routes = registered_routes()
    assert routes - set(EXPECTED) == set(), "routes with no line in EXPECTED"
    assert set(EXPECTED) - routes == set(), "lines of EXPECTED for routes the app no longer has"


@pytest.mark.parametrize(("method", "route"), sorted(EXPECTED))
def test_each_role_is_refused_or_served_as_the_table_says(
    host: HostProcess, keys: dict[str, str | None], method: str, route: str
) -> None:
    expected = EXPECTED[(method, route)]
    with host.client() as client:
        for who, key in keys.items():
            headers = {"x-api-key": key} if key else {}
            body = {} if method in ("POST", "PUT") else None
            answer = client.request(method, url_of(route), headers=headers, json=body, timeout=30)
            seen = f"{method} {route} as {who}: {answer.status_code} {answer.text[:300]}"
            if expected == HOST:
                assert answer.status_code == 401, seen
            elif expected == OPEN or (key is not None and who in expected):
                assert answer.status_code not in (401, 403), seen
            elif key is None:
                assert answer.status_code == 401, seen
                assert answer.json()["error"]["code"] == "unauthorized", seen
            else:
                assert answer.status_code == 403, seen
                error = answer.json()["error"]
                assert error["code"] == "forbidden", seen
                assert re.match(rf"the {who} role may not \w", error["message"]), seen
