"""The generic starter (``POST /api/orchestrators/{name}``) starts the samples, nothing that acts for a
tenant, and only with a function key (it is function level, the app's default)."""

from __future__ import annotations

import httpx

from convergio.retention import RETENTION_INSTANCE
from orchestrations import _blueprint, samples
from tests._helpers import HostProcess, wait_status
from tests.api.conftest import Api


def test_only_samples_are_startable() -> None:
    assert {"hello_sequence", "fan_out_fan_in"} == _blueprint.STARTABLE
    assert all(callable(getattr(samples, name, None)) for name in _blueprint.STARTABLE)


def test_internal_orchestrators_cannot_be_started_from_outside(api_host: HostProcess, acme: Api) -> None:
    starter = f"{api_host.base_url}/api/orchestrators"
    key = {"code": api_host.key("default")}
    instances = api_host.durable_url("instances")

    def runs() -> list[object]:  # the retention singleton (ADR 0018) sweeps on its own
        return [i for i in httpx.get(instances).json() if i["instanceId"] != RETENTION_INSTANCE]

    before = runs()
    spend = {"tenant": "acme-school", "graph": {"name": "g", "agents": [{"id": "a", "prompt": "x"}]}}
    for name in ("agent_graph", "deliver_webhooks", "retention", "nope"):
        answer = httpx.post(f"{starter}/{name}", params=key, json=spend)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert runs() == before


def test_the_starter_is_function_level(api_host: HostProcess) -> None:
    url = f"{api_host.base_url}/api/orchestrators/fan_out_fan_in"
    assert httpx.post(url, json={"count": 2}).status_code == 401
    assert (
        httpx.post(url, json={"count": 2}, params={"code": api_host.key()}).status_code == 401
    )  # system key
    answer = httpx.post(url, json={"count": 2}, params={"code": api_host.key("default")})
    assert answer.status_code == 202, answer.text
    with api_host.client() as client:
        assert wait_status(client, answer.json()["statusQueryGetUri"])["runtimeStatus"] == "Completed"


def test_the_tenant_api_needs_no_functions_key(acme: Api) -> None:
    # /api/v1 routes declare ANONYMOUS and authenticate tenants with x-api-key themselves.
    assert acme.http.get("/runs").status_code == 200
    assert httpx.get(acme.http.base_url.join("runs")).status_code == 401
