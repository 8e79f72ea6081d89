"""Claiming a fresh installation without a shell (ADR 0022), through a real host of the real app.

Each host here starts from an empty home: the package's shared host already has tenants made
with the CLI, which count as a claim.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from convergio.tenants import open_tenant_store
from tests._emulators import Azurite, CosmosEmulator
from tests._helpers import ROOT, HostProcess
from tests.api.conftest import APP

CODE = "6f1c2a3b-5d4e-4f00-8a1b-0123456789ab"
RACERS = 8


def _claim(base_url: str, code: str, tenant: str = "Hill School", admin: str = "Grace") -> httpx.Response:
    body = {"code": code, "tenant_name": tenant, "admin_name": admin}
    return httpx.post(f"{base_url}/api/v1/setup/claim", json=body, timeout=30)


def _get(base_url: str, path: str, key: str | None = None) -> httpx.Response:
    headers = {"x-api-key": key} if key else {}
    return httpx.get(f"{base_url}/api/v1{path}", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    home = tmp_path_factory.mktemp("claim-home")
    with HostProcess(APP, home, {"CONVERGIO_SETUP_CODE": CODE}) as host:
        yield host


def test_the_setup_code_claims_once_and_makes_the_first_admin(fresh: HostProcess) -> None:
    url = fresh.base_url
    assert _get(url, "/setup").json() == {"claimed": False}

    wrong = _claim(url, CODE[:-1] + "0")
    assert wrong.status_code == 403, wrong.text
    assert wrong.json()["error"]["code"] == "forbidden"
    assert wrong.json()["error"]["details"][0]["path"] == "code"
    blank = httpx.post(f"{url}/api/v1/setup/claim", json={"code": CODE, "tenant_name": " "}, timeout=30)
    assert blank.status_code == 400
    assert {d["path"] for d in blank.json()["error"]["details"]} == {"tenant_name", "admin_name"}
    assert _get(url, "/setup").json() == {"claimed": False}  # neither consumed the code

    # Many claims at once, the code typed in upper case without dashes: exactly one wins.
    start = threading.Barrier(RACERS)

    def race(index: int) -> httpx.Response:
        start.wait()
        return _claim(url, CODE.upper().replace("-", ""), tenant=f"School {index}", admin=f"Admin {index}")

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(race, range(RACERS)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (RACERS - 1), [a.text for a in answers]
    won = next(a.json() for a in answers if a.status_code == 201)
    assert all(a.json()["error"]["code"] == "conflict" for a in answers if a.status_code == 409)
    assert set(won) == {"tenant", "member", "key"}
    assert won["member"]["role"] == "admin" and won["member"]["name"].startswith("Admin ")
    index = won["member"]["name"].removeprefix("Admin ")
    assert won["tenant"] | {"created_at": ""} == {
        "id": f"school-{index}",
        "name": f"School {index}",
        "created_at": "",
    }
    assert won["tenant"]["created_at"]
    assert [t.id for t in open_tenant_store(fresh.home).list_tenants()] == [f"school-{index}"]  # type: ignore[arg-type]

    me = _get(url, "/me", won["key"])
    assert me.status_code == 200, me.text
    assert me.json() | {"permissions": []} == {
        "tenant": {
            "id": f"school-{index}",
            "name": f"School {index}",
            "created_at": me.json()["tenant"]["created_at"],
        },
        "role": "admin",
        "subject": f"member:{won['member']['id']}",
        "member": won["member"],
        "home": True,
        "permissions": [],
    }
    assert "manage the tenant" in me.json()["permissions"]
    # The admin's key is the tenant's only live key: the store's first key (no member) is revoked.
    keys = _get(url, "/tenants/me/keys", won["key"]).json()["keys"]
    live = [k for k in keys if k["revoked_at"] is None]
    assert [(k["role"], k["member"]) for k in live] == [("admin", won["member"]["id"])]

    again = _claim(url, CODE, tenant="Late School")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert _get(url, "/setup").json() == {"claimed": True}
    # Neither the code nor the key is in any answer but the one that made it, nor in the log.
    assert CODE not in again.text and CODE.upper().replace("-", "") not in "\n".join(fresh.lines)
    assert CODE not in "\n".join(fresh.lines) and won["key"] not in "\n".join(fresh.lines)


def test_home_admins_create_tenants_and_other_admins_may_not(fresh: HostProcess) -> None:
    url = fresh.base_url
    home_key = _home_admin_key(fresh)
    headers = {"x-api-key": home_key}
    made = httpx.post(
        f"{url}/api/v1/tenants",
        json={"name": "Valley School", "admin_name": "Alan"},
        headers=headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    assert body["tenant"]["id"] == "valley-school" and body["member"]["role"] == "admin"
    me = _get(url, "/me", body["key"]).json()
    assert me["tenant"]["id"] == "valley-school" and me["role"] == "admin" and me["home"] is False
    listed = _get(url, "/tenants", home_key)
    assert listed.status_code == 200
    assert {t["id"] for t in listed.json()["tenants"]} >= {"valley-school", me["tenant"]["id"]}

    refused = _get(url, "/tenants", body["key"])  # an admin, but of another tenant than the home one
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "home tenant" in refused.json()["error"]["message"]
    twice = httpx.post(
        f"{url}/api/v1/tenants",
        json={"name": "Valley  School!", "admin_name": "Bob"},
        headers=headers,
        timeout=30,
    )
    assert twice.status_code == 409 and twice.json()["error"]["details"][0]["path"] == "name"
    nameless = httpx.post(
        f"{url}/api/v1/tenants", json={"name": "!!", "admin_name": "Bob"}, headers=headers, timeout=30
    )
    assert nameless.status_code == 400 and nameless.json()["error"]["details"][0]["path"] == "name"


def _home_admin_key(host: HostProcess) -> str:
    """One more admin key of the home tenant, issued as the CLI would (the claim's key was shown once)."""
    store = open_tenant_store(host.home)  # type: ignore[arg-type]
    claim = store.installation_claim()
    assert claim is not None
    return store.issue_key(claim["tenant_id"], label="test")


def test_the_embedded_host_generates_the_code_the_cli_prints_and_cli_tenants_count_as_a_claim(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    with HostProcess(APP, home) as host:
        assert _claim(host.base_url, "NOT-THE-CODE-AT-ALL-REALLY").status_code == 403
        printed = subprocess.run(
            [sys.executable, "-m", "convergio", "setup-code", "--home", str(home)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=60,
        )
        code = printed.stdout.strip()
        assert code == (home / "setup-code").read_text().strip() and "works once" in printed.stderr
        assert _claim(host.base_url, code.lower()).status_code == 201
        after = subprocess.run(
            [sys.executable, "-m", "convergio", "setup-code", "--home", str(home)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=60,
        )
        assert after.stdout.strip() == code and "already claimed" in after.stderr
    other = tmp_path / "cli-home"
    open_tenant_store(other).add_tenant("Made By The CLI")
    with HostProcess(APP, other, {"CONVERGIO_SETUP_CODE": CODE}) as host:
        assert _get(host.base_url, "/setup").json() == {"claimed": True}
        assert _claim(host.base_url, CODE).status_code == 409


def test_a_hosted_instance_with_no_code_refuses_to_be_claimed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with HostProcess(APP, home, {"CONVERGIO_HOSTED": "true", "CONVERGIO_SETUP_CODE": ""}) as host:
        answer = _claim(host.base_url, CODE)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "not_configured"
        assert "CONVERGIO_SETUP_CODE" in answer.json()["error"]["message"]
        assert not (home / "setup-code").exists()
        assert _get(host.base_url, "/setup").json() == {"claimed": False}


def test_two_instances_on_one_control_plane_let_exactly_one_claim_win(
    cosmos_emulator: CosmosEmulator, azurite: Azurite, tmp_path: Path
) -> None:
    shared = {
        **cosmos_emulator.settings(),
        "AzureWebJobsStorage": azurite.connection_string,
        "CONVERGIO_SECRETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CONVERGIO_SETUP_CODE": CODE,
    }
    with HostProcess(APP, tmp_path / "a", shared) as a, HostProcess(APP, tmp_path / "b", shared) as b:
        start = threading.Barrier(RACERS)

        def race(index: int) -> httpx.Response:
            start.wait()
            host = (a, b)[index % 2]
            return _claim(host.base_url, CODE, tenant=f"Plane School {index}", admin=f"Admin {index}")

        with ThreadPoolExecutor(RACERS) as pool:
            answers = list(pool.map(race, range(RACERS)))
        assert sorted(r.status_code for r in answers) == [201] + [409] * (RACERS - 1), (
            [r.text for r in answers],
            "\n".join(a.lines + b.lines)[-6000:],
        )
        won = next(r.json() for r in answers if r.status_code == 201)
        for host in (a, b):  # the claim and the admin's key hold on every instance
            assert _get(host.base_url, "/setup").json() == {"claimed": True}
            me = _get(host.base_url, "/me", won["key"]).json()
            assert me["home"] is True and me["tenant"]["id"] == won["tenant"]["id"]
            listed = _get(host.base_url, "/tenants", won["key"]).json()["tenants"]
            assert [t["id"] for t in listed] == [won["tenant"]["id"]]  # the losers made no tenant
