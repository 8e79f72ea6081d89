"""Orchestration versioning as Azure's Durable extension applies it (ADR 0020), through a host
subprocess running tests/apps/versioned_app, an app written as the extension's Python e2e app is.

The expected values are the extension's: its e2e VersioningTests (host.json ``defaultVersion``
2.0, ``CurrentOrOlder``, ``Fail``; a started version wins, ``3.0`` fails), its
OrchestrationVersionTests (an instance keeps its version across hosts, and a sub-orchestration
started without one inherits its parent's), and DurableTask.Core's dispatcher and
``VersioningSettings.CompareVersions`` (what ``Strict``, ``CurrentOrOlder``, ``Reject`` and
``Fail`` do, and the failure they record).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from convergio.host._versioning import (
    FailureStrategy,
    MatchStrategy,
    Verdict,
    VersionGate,
    Versioning,
    compare_versions,
)
from tests._helpers import ROOT, HostProcess, wait_status

APP = ROOT / "tests" / "apps" / "versioned_app"
MISMATCH = "VersionMismatch: Orchestration version did not comply with Worker Versioning"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    with HostProcess(APP / "function_app.py", tmp_path_factory.mktemp("home")) as process:
        yield process


def app_with(folder: Path, **durable: Any) -> Path:
    """The versioned app in ``folder`` with ``extensions.durableTask`` set to ``durable``."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in APP.glob("*.py"):
        shutil.copy(source, folder / source.name)
    host_json = {"version": "2.0", "extensions": {"durableTask": {"hubName": "VersionedHub", **durable}}}
    (folder / "host.json").write_text(json.dumps(host_json))
    return folder / "function_app.py"


def started(host: HostProcess, route: str, **params: str) -> str:
    """Start through one of the app's HTTP starters; the instance's status URL."""
    with host.client() as client:
        response = client.get(f"/api/{route}", params=params)
    assert response.status_code == 202, response.text
    return str(response.json()["statusQueryGetUri"])


def finished(host: HostProcess, url: str) -> dict[str, Any]:
    with host.client() as client:
        return wait_status(client, url)


def status(url: str) -> dict[str, Any]:
    return dict(httpx.get(url).json())


# -- the extension's e2e VersioningTests ---------------------------------------------------------
def test_an_instance_started_without_a_version_gets_the_default_version(host: HostProcess) -> None:
    body = finished(host, started(host, "OrchestrationVersion_HttpStart"))
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == "Version: '2.0'"


@pytest.mark.parametrize("version", ["1.0", "2.0", ""])
def test_the_version_a_starter_asks_for_is_the_instances(host: HostProcess, version: str) -> None:
    body = finished(host, started(host, "OrchestrationVersion_HttpStart", version=version))
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == f"Version: '{version}'"


def test_a_version_newer_than_the_default_fails_with_version_mismatch(host: HostProcess) -> None:
    body = finished(host, started(host, "OrchestrationVersion_HttpStart", version="3.0"))
    assert body["runtimeStatus"] == "Failed", body
    assert body["output"] == MISMATCH


@pytest.mark.parametrize(("asked", "expected"), [(None, "2.0"), ("1.0", "1.0"), ("2.0", "2.0")])
def test_a_sub_orchestration_gets_the_version_it_is_called_with(
    host: HostProcess, asked: str | None, expected: str
) -> None:
    params = {} if asked is None else {"subOrchestrationVersion": asked}
    body = finished(host, started(host, "OrchestrationSubVersion_HttpStart", **params))
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == f"Parent Version: '2.0' | Sub Version: '{expected}'"


def test_a_sub_orchestration_of_a_newer_version_fails_and_fails_its_parent(host: HostProcess) -> None:
    url = started(host, "OrchestrationSubVersion_HttpStart", subOrchestrationVersion="3.0")
    parent = finished(host, url)
    assert parent["runtimeStatus"] == "Failed", parent
    child = status(url.replace(parent["instanceId"], f"{parent['instanceId']}:0", 1))
    assert child["runtimeStatus"] == "Failed", child
    assert child["output"] == MISMATCH
    # DurableTask.Core tells the parent with the failure details and no reason; the SDK reads
    # only Reason and Details, so the parent sees what Azure shows it.
    assert parent["output"] == "Orchestrator function 'OrchestrationSubVersion' failed: None \n None"


def test_the_durable_http_api_start_takes_a_version(host: HostProcess) -> None:
    response = httpx.post(host.durable_url("orchestrators/OrchestrationVersion") + "&version=1.5")
    assert response.status_code == 202, response.text
    body = finished(host, response.json()["statusQueryGetUri"])
    assert body["output"] == "Version: '1.5'"


def test_continue_as_new_keeps_the_version(host: HostProcess) -> None:
    url = started(host, "StartOrchestration", orchestrationName="VersionAcrossContinueAsNew", version="1.0")
    body = finished(host, url)
    assert body["runtimeStatus"] == "Completed", body
    assert body["output"] == "Version: '1.0'"


def test_an_activity_sees_the_version_its_orchestrator_passes(host: HostProcess) -> None:
    body = finished(host, started(host, "StartOrchestration", orchestrationName="VersionWithActivity"))
    assert body["output"] == "Hello from version 2.0!"


# -- Reject, and a newer host taking the work over ------------------------------------------------
def test_rejected_instances_wait_untouched_until_a_host_that_accepts_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = HostProcess(app_with(tmp_path / "v1", defaultVersion="1.0"), home).start()  # Reject: the default
    try:
        newer = started(old, "StartOrchestration", orchestrationName="OrchestrationVersion", version="2.0")
        doomed = started(old, "StartOrchestration", orchestrationName="OrchestrationVersion", version="2.0")
        waiting = started(old, "StartOrchestration", orchestrationName="VersionAfterExternalEvent")
        ids = {name: status(url)["instanceId"] for name, url in (("newer", newer), ("waiting", waiting))}
        doomed_id = status(doomed)["instanceId"]
        terminate = httpx.post(old.durable_url(f"instances/{doomed_id}/terminate") + "&reason=stop")
        assert terminate.status_code == 202, terminate.text
        with old.client() as client:
            assert wait_status(client, waiting, ["Running"])["runtimeStatus"] == "Running"
        for _ in range(6):  # nothing of a rejected instance runs, not even a terminate
            assert status(newer)["runtimeStatus"] == "Pending"
            assert status(doomed)["runtimeStatus"] == "Pending"
            time.sleep(0.25)
        assert status(waiting)["customStatus"] == "Waiting"
    finally:
        old.stop()
    assert any("which CurrentOrOlder with defaultVersion '1.0' does not accept" in line for line in old.lines)

    with HostProcess(app_with(tmp_path / "v2", defaultVersion="2.0"), home) as new:
        body = finished(new, new.durable_url(f"instances/{ids['newer']}"))
        assert (body["runtimeStatus"], body["output"]) == ("Completed", "Version: '2.0'")
        assert finished(new, new.durable_url(f"instances/{doomed_id}"))["runtimeStatus"] == "Terminated"
        with new.client() as client:
            params = {"instanceId": ids["waiting"], "eventName": "Resume"}
            response = client.get("/api/RaiseEvent", params=params)
        assert response.status_code == 202, response.text
        body = finished(new, new.durable_url(f"instances/{ids['waiting']}"))
    # The extension's ExistingOrchestrationVersionIsImmutable: the instance keeps the 1.0 it was
    # created with, and the sub-orchestration it starts on the 2.0 host inherits that 1.0.
    assert body["output"] == "Orchestration: '1.0'; Sub-orchestration: '1.0'"


# -- Strict and None -------------------------------------------------------------------------------
def test_strict_runs_only_the_exact_version(tmp_path: Path) -> None:
    app = app_with(
        tmp_path, defaultVersion="2.0", versionMatchStrategy="Strict", versionFailureStrategy="Fail"
    )
    with HostProcess(app, tmp_path / "home") as strict:
        assert (
            finished(strict, started(strict, "OrchestrationVersion_HttpStart"))["output"] == "Version: '2.0'"
        )
        for version in ("1.0", "2.0.0", ""):  # an ordinal comparison: 2.0.0 is not 2.0
            body = finished(strict, started(strict, "OrchestrationVersion_HttpStart", version=version))
            assert (body["runtimeStatus"], body["output"]) == ("Failed", MISMATCH), version


def test_match_strategy_none_runs_any_version(tmp_path: Path) -> None:
    app = app_with(tmp_path, defaultVersion="1.0", versionMatchStrategy="none")  # any case, as .NET binds
    with HostProcess(app, tmp_path / "home") as anything:
        body = finished(anything, started(anything, "OrchestrationVersion_HttpStart", version="9.0"))
        assert body["output"] == "Version: '9.0'"


def test_without_a_default_version_an_instance_has_none(tmp_path: Path) -> None:
    with HostProcess(app_with(tmp_path), tmp_path / "home") as unversioned:
        body = finished(unversioned, started(unversioned, "OrchestrationVersion_HttpStart"))
        assert body["output"] == "Version: 'None'"


def test_an_unknown_strategy_stops_the_host_naming_host_json(tmp_path: Path) -> None:
    app = app_with(tmp_path, versionMatchStrategy="Newest")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "convergio",
            "start",
            "--app",
            str(app),
            "--port",
            "0",
            "--home",
            str(tmp_path / "h"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    error = done.stderr + done.stdout
    assert str(tmp_path / "host.json") in error
    assert "versionMatchStrategy is 'Newest': it must be one of None | Strict | CurrentOrOlder" in error


# -- DurableTask.Core's CompareVersions ------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "other", "expected"),
    [
        ("1.0.0", "1.0.0", 0),  # DurableTask.Core's own test rows
        ("1.1.0", "1.0.0", 1),
        ("1.0.0", "1.1.0", -1),
        ("1", "1", 0),
        ("2", "1", 1),
        ("1", "2", -1),
        ("", "1", -1),
        ("1", "", 1),
        ("", "", 0),
        (None, " ", 0),  # null and white space are "no version"
        (None, "1.0", -1),
        ("1.10", "1.9", 1),  # System.Version: numeric parts
        ("1.0", "1.0.0", -1),  # a missing part is -1
        ("10", "9", -1),  # one part is not a System.Version: compared as text
        ("v2.0", "V2.0", 0),  # ordinal, ignoring case
        ("2025-01-01", "2024-12-31", 1),
    ],
)
def test_versions_compare_as_durable_task_core_compares_them(
    source: str | None, other: str | None, expected: int
) -> None:
    result = compare_versions(source, other)
    assert (result > 0) - (result < 0) == expected


# -- a store from before versions ------------------------------------------------------------------
def test_a_store_written_before_versions_gains_the_column_and_keeps_its_instances(tmp_path: Path) -> None:
    from convergio.host._events import EventType, new_event
    from convergio.host._store import InstanceRecord, Message, Store
    from convergio.host._store_schema import SCHEMA

    path = tmp_path / "durable.sqlite3"
    old_schema = SCHEMA.replace(",\n    version TEXT\n)", "\n)")
    assert old_schema != SCHEMA
    with sqlite3.connect(path) as db:
        db.executescript(old_schema)
        db.execute(
            "INSERT INTO instances VALUES ('old', 'orch', 'e0', 'Running', NULL, NULL, NULL, "
            "'2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 0)"
        )
    store = Store(path)
    try:
        old = store.get("old")
        assert old is not None and old.version is None  # created before versions: it has none
        stamp = "2026-01-02T00:00:00.000000Z"
        fields = ["new", "orch", "e1", "Pending", None, None, None, None, None, None, stamp, stamp, 0, None]
        record = InstanceRecord(*fields, version="")  # "" is a version, and not None
        started = new_event(EventType.EXECUTION_STARTED, stamp, Name="orch", Version="")
        store.create(record, Message("new", "e1", 0.0, started), replace=False)
        assert store.get("new", header=True).version == ""  # type: ignore[union-attr]
    finally:
        store.close()


@pytest.mark.parametrize("match", list(MatchStrategy))
@pytest.mark.parametrize("failure", list(FailureStrategy))
def test_a_gates_remembered_verdicts_are_the_settings_verdicts(
    match: MatchStrategy, failure: FailureStrategy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate answers each version from memory after its first step: the same verdict, asked
    before every step, as the settings give it afresh (and the memory stays bounded)."""
    from convergio.host import _versioning

    monkeypatch.setattr(_versioning, "_KNOWN_VERSIONS", 3)
    settings = Versioning(default_version="1.5", match=match, failure=failure)
    gate = VersionGate(settings)
    versions = [None, "", "1.5", "1.5.0", "1.4", "2.0", "v2", " 1.5", None, "2.0", "1.4"]
    for version in versions * 2:
        expected = Verdict.RUN if settings.complies(version) else Verdict.FAIL
        if expected is Verdict.FAIL and failure is FailureStrategy.REJECT:
            expected = Verdict.REJECT
        assert gate.verdict("i", version) is expected, version
    assert len(gate._complies) <= 3
