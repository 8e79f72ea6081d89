"""The Budgets page's API: limits, this month's spending, managed-key consent and quota events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

from convergio.quotas import SqliteQuotaStore, TenantBudget
from convergio.tenants import tenant_id_for
from tests._helpers import HostProcess
from tests.api.conftest import Api, new_key


def test_a_new_tenant_sees_byok_without_limits_and_cannot_consent(
    api_host: HostProcess, api_home: Path
) -> None:
    with Api(api_host.base_url, new_key(api_home, "Plain School")) as api:
        view = api.http.get("/tenants/me/budget").json()
        assert view == {
            "month": datetime.now(UTC).strftime("%Y-%m"),
            "monthly_eur": None,
            "spent_eur": "0",
            "managed_enabled": False,
            "managed_cap_eur": "0",
            "managed_spent_eur": "0",
            "overage_consent_eur": "0",
            "downgrade_at": "0.8",
            "events": [],
        }
        refused = api.http.post("/tenants/me/overage-consent", json={"amount_eur": "5"})
        assert (
            refused.status_code == 409
            and "managed keys are not enabled" in refused.json()["error"]["message"]
        )
    assert httpx.get(f"{api_host.base_url}/api/v1/tenants/me/budget").status_code == 401


def test_limits_spending_consent_and_events_as_the_page_shows_them(
    api_host: HostProcess, api_home: Path
) -> None:
    key = new_key(api_home, "Budget School")
    tenant = tenant_id_for("Budget School")
    quotas = SqliteQuotaStore(api_home / "quotas.sqlite3")  # the host's own store, as the CLI writes it
    quotas.set_budget(TenantBudget(tenant, Decimal("20"), True, Decimal("10")))
    now = datetime.now(UTC)
    spent = quotas.reserve(tenant, "managed", Decimal("8.5"), now=now)
    quotas.settle(spent.reservation_id or "", Decimal("8.5"))
    over = quotas.reserve(tenant, "managed", Decimal(0), now=now)  # past 80 % of the cap: a downgrade
    assert over.downgrade
    quotas.settle(over.reservation_id or "", Decimal(0))
    quotas.reserve(tenant, "byok", Decimal("3.25"), now=now)  # an open reservation counts until settled
    assert not quotas.reserve(tenant, "managed", Decimal(2), now=now).allowed  # over the cap: throttled

    with Api(api_host.base_url, key) as api:
        bad = api.http.post("/tenants/me/overage-consent", json={"amount_eur": "-3"})
        assert bad.status_code == 400
        assert bad.json()["error"]["details"][0]["path"] == "amount_eur"
        extra = api.http.post("/tenants/me/overage-consent", json={"amount_eur": "1", "why": "x"})
        assert extra.status_code == 400 and extra.json()["error"]["details"][0]["path"] == "why"
        done = api.http.post("/tenants/me/overage-consent", json={"amount_eur": "2.50"})
        assert done.status_code == 201, done.text
        view = api.http.get("/tenants/me/budget").json()
        with Api(api_host.base_url, new_key(api_home, "Budget Other School")) as other:
            theirs = other.http.get("/tenants/me/budget").json()

    assert view["monthly_eur"] == "20" and view["managed_enabled"] and view["managed_cap_eur"] == "10"
    assert Decimal(view["spent_eur"]) == Decimal("11.75")  # 8.5 managed + 3.25 reserved BYOK
    assert Decimal(view["managed_spent_eur"]) == Decimal("8.5")
    assert view["overage_consent_eur"] == "2.50"
    kinds = [e["kind"] for e in view["events"]]
    assert kinds[0] == "consent" and set(kinds) == {"consent", "throttle", "downgrade"}
    assert all(set(e) == {"at", "kind", "detail"} for e in view["events"])
    assert "2.50 EUR" in view["events"][0]["detail"]
    assert theirs["events"] == [] and theirs["overage_consent_eur"] == "0"


def test_the_openapi_document_has_the_budget_routes(api_host: HostProcess) -> None:
    doc = httpx.get(f"{api_host.base_url}/api/v1/openapi.json").json()
    budget = doc["paths"]["/api/v1/tenants/me/budget"]["get"]["responses"]["200"]
    assert budget["content"]["application/json"]["schema"]["$ref"].endswith("/BudgetView")
    consent = doc["paths"]["/api/v1/tenants/me/overage-consent"]["post"]
    assert consent["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ConsentIn")
    assert "events" in doc["components"]["schemas"]["BudgetView"]["required"]
