"""The repository's contract files: host.json, settings names, public surfaces."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pytest

import convergio.host
from convergio.settings import SETTING_NAMES, SettingsError, load_settings
from tests._helpers import ROOT

PLATFORM_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags"}


def test_host_json_is_a_v2_host_with_bundle_v4_and_a_configurable_durable_hub() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host["extensionBundle"]["version"].startswith("[4.")
    durable = host["extensions"]["durableTask"]
    assert durable["hubName"] == "%TASKHUB_NAME%"
    # The extension resolves %setting% in hubName only; the type is compared literally, so it is
    # left to the default (Azure Storage) and switched by an app-setting override (see infra/).
    assert "type" not in durable["storageProvider"]
    assert "%" not in json.dumps(durable["storageProvider"])


def test_every_sample_setting_is_a_setting_the_code_reads() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert set(sample) - PLATFORM_SETTINGS == set(SETTING_NAMES)


def test_requirements_pin_exact_versions() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        lines = [line.strip() for line in (ROOT / name).read_text().splitlines()]
        pins = [line for line in lines if line and not line.startswith(("#", "-r"))]
        assert pins and all("==" in line for line in pins), name
    assert "azure-functions-durable==" in (ROOT / "requirements.txt").read_text()


def test_settings_lookup_order_is_environment_then_local_settings_then_default(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"Values": {"CONVERGIO_ACTIVITY_CONCURRENCY": "4", "CONVERGIO_HOME": "/from/local"}})
    )
    settings = load_settings({"CONVERGIO_HOME": "/from/env"}, folder=tmp_path)
    assert settings.home == Path("/from/env")
    assert settings.activity_concurrency == 4
    assert settings.keep_alive_sessions == 1000
    assert settings.replay_verify is False


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONVERGIO_REPLAY_VERIFY", "maybe", "CONVERGIO_REPLAY_VERIFY must be true or false"),
        ("CONVERGIO_ACTIVITY_CONCURRENCY", "many", "CONVERGIO_ACTIVITY_CONCURRENCY must be an integer"),
        ("CONVERGIO_ACTIVITY_CONCURRENCY", "0", "CONVERGIO_ACTIVITY_CONCURRENCY must be >= 1"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({name: value}, folder=tmp_path)


def test_host_public_surface_is_pinned() -> None:
    assert sorted(convergio.host.__all__) == [
        "AppLoadError",
        "EmbeddedHost",
        "Engine",
        "EngineConfig",
        "HostConfig",
        "HostKeys",
        "NonDeterminismError",
        "OrchestrationExecutor",
        "load_host_keys",
    ]


def test_cli_reports_a_missing_app_clearly(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "convergio",
            "start",
            "--app",
            str(tmp_path / "nope.py"),
            "--port",
            "0",
            "--home",
            str(tmp_path / "home"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "No Functions app at" in done.stderr


def test_the_project_app_runs_its_sample_on_the_embedded_host(tmp_path: Path) -> None:
    from tests._helpers import HostProcess, start, wait_status

    with HostProcess(ROOT / "function_app.py", tmp_path) as host, host.client() as client:
        urls = start(client, "fan_out_fan_in", {"count": 20}, code=host.key("default"))
        body = wait_status(client, urls["statusQueryGetUri"])
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == {"workers": 20, "total": sum(len(f"worker-{i}") for i in range(20))}
    assert body["customStatus"] == {"phase": "done", "workers": 20}


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether a .funcignore pattern (folder prefixes ``x/``, globs ``*.ext``) drops ``path``."""
    for pattern in patterns:
        if pattern.endswith("/"):
            folder = pattern.rstrip("/")
            if path == folder or path.startswith(pattern) or f"/{folder}/" in f"/{path}":
                return True
        elif fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern) or path == pattern:
            return True
    return False


def test_the_deployment_package_keeps_the_app_and_drops_the_rest() -> None:
    lines = (ROOT / ".funcignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    kept = [
        "function_app.py",
        "host.json",
        "requirements.txt",
        "convergio/graph/_run.py",
        "convergio/metering/prices.json",
        "orchestrations/graph.py",
        "activities/agents.py",
        "examples/graphs/lesson-plan.yaml",
        "plugins/examples/text-stats/plugin.json",
        "web/build/index.html",
    ]
    dropped = [
        ".venv/bin/python",
        "tests/api/test_crash.py",
        "web/node_modules/x/index.js",
        "local.settings.json",
    ]
    assert [p for p in kept if _ignored(p, patterns)] == []
    assert [p for p in dropped if not _ignored(p, patterns)] == []
    assert all((ROOT / p).exists() for p in kept if not p.startswith("web/build"))


def test_no_runtime_state_or_host_keys_are_tracked() -> None:
    """A host's home (task hub, ledger, its generated host keys) is local state and a secret:
    a committed one gave every clone the same master key (``make serve-emulated`` reused it)."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    state = [
        path
        for path in tracked
        if Path(path).name == "host_keys.json" or fnmatch.fnmatch(Path(path).name, "*.sqlite3*")
    ]
    assert state == []
