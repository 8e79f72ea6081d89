"""The installation's claim (ADR 0022): made once on every instance whatever the race; the setup code."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from convergio.tenants import (
    SetupCodeMissing,
    SqliteTenantStore,
    TenantStore,
    local_setup_code,
    setup_code,
    setup_code_matches,
)
from tests.tenants._backends import OpenStore

RACERS = 6


def test_a_fresh_installation_is_unclaimed_and_the_first_claim_is_the_only_one(open_store: OpenStore) -> None:
    a, b = open_store(), open_store()
    assert a.installation_claim() is None
    assert a.claim_installation("first-school", "m1") is True
    claim = b.installation_claim()  # another instance sees it on its next call
    assert claim is not None
    assert (claim["tenant_id"], claim["member_id"]) == ("first-school", "m1")
    assert claim["claimed_at"]
    assert b.claim_installation("second-school", "m2") is False
    assert a.claim_installation("first-school", "m1") is False  # not even the same claim twice
    assert a.installation_claim() == claim  # never replaced


def test_concurrent_claims_on_many_instances_have_exactly_one_winner(open_store: OpenStore) -> None:
    stores: list[TenantStore] = [open_store() for _ in range(RACERS)]
    start = threading.Barrier(RACERS)

    def race(index: int) -> bool:
        start.wait()
        return stores[index].claim_installation(f"school-{index}", f"member-{index}")

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(race, range(RACERS)))
    assert results.count(True) == 1, results
    winner = results.index(True)
    claim = stores[0].installation_claim()
    assert claim is not None
    assert (claim["tenant_id"], claim["member_id"]) == (f"school-{winner}", f"member-{winner}")


def test_the_claim_outlives_the_store_and_needs_no_tenant(tmp_path: Path) -> None:
    # The claim comes before the tenant it names (so a lost race creates nothing): no foreign key.
    SqliteTenantStore(tmp_path / "t.sqlite3").claim_installation("not-made-yet", "m1")
    reopened = SqliteTenantStore(tmp_path / "t.sqlite3")
    assert reopened.installation_claim() is not None
    assert reopened.get("not-made-yet") is None


def test_the_local_setup_code_is_made_once_private_and_the_same_for_every_racer(tmp_path: Path) -> None:
    home = tmp_path / "home"
    start = threading.Barrier(8)

    def read() -> str:
        start.wait()
        return local_setup_code(home)

    with ThreadPoolExecutor(8) as pool:
        codes = set(pool.map(lambda _: read(), range(8)))
    assert len(codes) == 1
    code = codes.pop()
    path = home / "setup-code"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == code
    assert [p.name for p in home.iterdir()] == ["setup-code"]  # no temporary file left behind
    assert len(code.replace("-", "")) == 25
    assert local_setup_code(home) == code  # read, not made again


def test_the_setup_code_comes_from_the_setting_first(tmp_path: Path) -> None:
    guid = "6F1C2A3B-0000-4000-8000-0123456789AB"
    assert setup_code(f"  {guid} ", home=tmp_path, hosted=True) == guid
    assert setup_code(guid, home=tmp_path, hosted=False) == guid
    assert not (tmp_path / "setup-code").exists()  # a configured code: nothing generated


@pytest.mark.parametrize(
    ("configured", "hosted", "says"),
    [
        ("", True, "no setup code is configured"),
        ("@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)", True, "Key Vault reference"),
        (
            "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)",
            False,
            "Key Vault reference",
        ),
        ("short-code", False, "too short"),
    ],
)
def test_an_unusable_setup_code_says_why_without_the_value(
    tmp_path: Path, configured: str, hosted: bool, says: str
) -> None:
    with pytest.raises(SetupCodeMissing, match=says) as raised:
        setup_code(configured, home=tmp_path, hosted=hosted)
    assert "short-code" not in str(raised.value) and "kv.vault" not in str(raised.value)
    assert not (tmp_path / "setup-code").exists()  # hosted: never generated on an instance's disk


def test_setup_codes_match_up_to_spaces_dashes_and_case_only() -> None:
    guid = "6f1c2a3b-0000-4000-8000-0123456789ab"
    assert setup_code_matches(guid, guid)
    assert setup_code_matches("6F1C2A3B00004000 8000-0123456789AB", guid)
    assert setup_code_matches(" abcde-fghjk ", "ABCDEFGHJK")
    assert not setup_code_matches(guid[:-1] + "c", guid)
    assert not setup_code_matches(guid + "0", guid)
    assert not setup_code_matches("", "")  # no code configured matches nothing, not even nothing
    assert not setup_code_matches("anything", " - ")
