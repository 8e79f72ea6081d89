"""Several app instances on one tenant store: what one does, the others see at once; races have one winner."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from convergio.tenants import TenantExists, TenantStore
from tests.tenants._backends import OpenStore

T = TypeVar("T")


def race(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run the calls at once (released together by a barrier); each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[T | BaseException] = [RuntimeError("did not run")] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def instances(open_store: OpenStore) -> tuple[TenantStore, TenantStore]:
    return open_store(), open_store()


def test_a_key_issued_on_one_instance_authenticates_on_the_other_until_revoked_there(
    instances: tuple[TenantStore, TenantStore],
) -> None:
    one, two = instances
    tenant, first = one.add_tenant("Acme")
    ci = one.issue_key("acme", label="ci")
    assert two.authenticate(first) == tenant and two.authenticate(ci) == tenant
    assert two.get("acme") == tenant and two.list_tenants() == [tenant]
    assert two.revoke_keys("acme", label="ci") == 1
    assert one.authenticate(ci) is None  # the very next request, no cache to expire
    assert one.authenticate(first) == tenant
    assert one.revoke_keys("acme", label="ci") == 0  # revoked elsewhere: not counted again
    assert one.revoke_keys("acme") == 1
    assert two.authenticate(first) is None


def test_a_parallel_add_of_the_same_tenant_creates_it_once(
    instances: tuple[TenantStore, TenantStore],
) -> None:
    one, two = instances
    results = race([lambda: one.add_tenant("Acme School"), lambda: two.add_tenant("ACME school")])
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if isinstance(r, TenantExists)]
    assert len(won) == 1 and len(lost) == 1, results
    tenant, key = won[0]
    assert one.list_tenants() == two.list_tenants() == [tenant]
    assert one.authenticate(key) == two.authenticate(key) == tenant


def test_concurrent_revocations_count_each_key_once(instances: tuple[TenantStore, TenantStore]) -> None:
    one, two = instances
    _, first = one.add_tenant("Acme")
    second = one.issue_key("acme")
    counts = race([lambda: one.revoke_keys("acme"), lambda: two.revoke_keys("acme")])
    assert [c for c in counts if not isinstance(c, int)] == []
    assert sum(c for c in counts if isinstance(c, int)) == 2
    assert one.authenticate(first) is None and two.authenticate(second) is None


def test_a_run_started_on_two_instances_for_two_tenants_has_one_owner(
    instances: tuple[TenantStore, TenantStore],
) -> None:
    one, two = instances
    one.add_tenant("Acme")
    two.add_tenant("Beta")
    results = race(
        [lambda: one.record_run("acme", "run-1", "g"), lambda: two.record_run("beta", "run-1", "g")]
    )
    refused = [r for r in results if isinstance(r, ValueError)]
    assert len(refused) == 1 and "another tenant" in str(refused[0]), results
    owner = one.owner_of("run-1")
    assert owner in ("acme", "beta") and two.owner_of("run-1") == owner
    loser = "beta" if owner == "acme" else "acme"
    assert [r.run_id for r in two.list_runs(owner)] == ["run-1"] and one.count_runs(loser) == 0
    two.record_run(owner, "run-1", "g")  # a retried start on the other instance: fine
    assert one.count_runs(owner) == 1
    one.forget_run("run-1")
    assert two.owner_of("run-1") is None and two.list_runs(owner) == []


def test_a_principal_mapped_on_one_instance_resolves_on_the_other(
    instances: tuple[TenantStore, TenantStore],
) -> None:
    one, two = instances
    acme, _ = one.add_tenant("Acme")
    beta, _ = two.add_tenant("Beta")
    one.map_principal("GitHubUser42", "acme")
    assert two.tenant_for_principal("GitHubUser42") == acme
    two.map_principal("GitHubUser42", "beta")
    assert one.tenant_for_principal("GitHubUser42") == beta
