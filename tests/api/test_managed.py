"""Managed keys end to end: the platform's key, downgrade past 80 % of the cap, throttle, consent."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from convergio.quotas import SqliteQuotaStore
from convergio.secrets import LocalSecretStore, Secret
from tests._helpers import ROOT, HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key
from tests.providers._servers import FakeAPI, chat_completion, json_reply

PLATFORM_KEY = "sk-platform-managed-0123456789abcdef"


def budget(home: Path, *args: str) -> None:
    command = [
        sys.executable,
        "-m",
        "convergio",
        "tenants",
        "budget",
        "Managed School",
        "--home",
        str(home),
        *args,
    ]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=60)


def test_managed_keys_downgrade_throttle_and_consent(tmp_path: Path, fake_llm: FakeAPI) -> None:
    home = tmp_path / "home"
    key = new_key(home, "Managed School")
    LocalSecretStore(home).put("platform", "managed", Secret(PLATFORM_KEY))
    managed = {"kind": "openai", "endpoint": f"{fake_llm.url}/v1", "model": "gpt-4o"}
    env = {"CONVERGIO_MANAGED_CONNECTION": json.dumps(managed)}
    # Cap 0.006 EUR, so downgrade from 0.0048. Earlier this month the tenant spent 0.0047.
    budget(home, "--managed", "--managed-cap-eur", "0.006")
    quotas = SqliteQuotaStore(home / "quotas.sqlite3")
    earlier = quotas.reserve("managed-school", "managed", Decimal(0), now=datetime.now(UTC))
    quotas.settle(earlier.reservation_id or "", Decimal("0.0047"))
    # Each call reserves 50 tokens at the dearest gpt-4o price, then settles at 30 + 10 tokens.
    chain = [
        agent("n1", provider="managed", budget={"max_tokens": 50}),
        agent("n2", provider="managed", budget={"max_tokens": 50}, depends_on=["n1"]),
    ]
    fake_llm.reset()
    fake_llm.queue(json_reply(chat_completion("ok", usage=(30, 10), model="gpt-4o")))
    fake_llm.queue(json_reply(chat_completion("ok", usage=(30, 10), model="gpt-4o-mini")))
    with HostProcess(APP, home, env) as host, Api(host.base_url, key) as api:
        run = api.wait(api.start(graph(*chain), "x"))
        assert run["status"] == "Completed", run
        assert [s.body["model"] for s in fake_llm.seen] == ["gpt-4o", "gpt-4o-mini"]  # past 80 %: cheaper
        assert {s.headers["authorization"] for s in fake_llm.seen} == {f"Bearer {PLATFORM_KEY}"}

        budget(home, "--managed", "--managed-cap-eur", "0.004")  # now over the cap
        throttled = api.wait(
            api.start(graph(agent("late", provider="managed", budget={"max_tokens": 50})), "x")
        )
        assert throttled["nodes"]["late"]["status"] == "budget_exceeded", throttled
        assert "budget_exhausted" in throttled["nodes"]["late"]["error"]
        assert len(fake_llm.seen) == 2  # the throttled call never reached the provider

        assert api.http.post("/tenants/me/overage-consent", json={"amount_eur": "lots"}).status_code == 400
        assert api.http.post("/tenants/me/overage-consent", json={"amount_eur": "1.00"}).status_code == 201
        fake_llm.queue(json_reply(chat_completion("ok", usage=(30, 10), model="gpt-4o-mini")))
        allowed = api.wait(
            api.start(graph(agent("again", provider="managed", budget={"max_tokens": 50})), "x")
        )
        assert allowed["status"] == "Completed", allowed
        view = api.http.get("/tenants/me/budget").json()
        assert view["managed_enabled"] and view["overage_consent_eur"] == "1.00"
        assert {"downgrade", "throttle", "consent"} <= {e["kind"] for e in view["events"]}
        assert PLATFORM_KEY not in json.dumps(view) + "\n".join(host.lines)

    with (
        HostProcess(APP, tmp_path / "other", env) as host,
        Api(host.base_url, new_key(tmp_path / "other", "B")) as b,
    ):
        refused = b.http.post("/runs", json={"graph": graph(agent("a", provider="managed")), "input": None})
        assert refused.status_code == 422  # BYOK by default: managed keys only when enabled for the tenant
        assert b.http.post("/tenants/me/overage-consent", json={"amount_eur": "5"}).status_code == 409
