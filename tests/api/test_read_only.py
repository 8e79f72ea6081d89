"""The app as Azure runs it: a read-only package, ``WEBSITE_INSTANCE_ID`` set, no ``CONVERGIO_HOME``.

The repository's app files are copied to a folder that is then bind-mounted read-only in a
private mount namespace (``unshare -m``), so any write under the package fails with EROFS, as
on Azure. State lives in the control plane (the emulators); the home is a per-instance temp
directory that holds caches only.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from convergio.settings import default_home
from tests._emulators import Azurite, CosmosEmulator
from tests._helpers import ROOT, HostProcess
from tests.api.conftest import Api

APP_PARTS = (
    "function_app.py",
    "host.json",
    "convergio",
    "orchestrations",
    "activities",
    "plugins",
    "examples",
)


def read_only(folder: Path) -> list[str]:
    """A command prefix that runs the rest with ``folder`` mounted read-only (private namespace)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(folder)]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployable app files, as a zip deployment would lay them out."""
    folder = tmp_path_factory.mktemp("wwwroot")
    for part in APP_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, folder / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, folder / part)
    return folder


@pytest.fixture(scope="module")
def azure_env(cosmos_emulator: CosmosEmulator, azurite: Azurite) -> Iterator[dict[str, str]]:
    instance = f"ro{uuid.uuid4().hex[:12]}"
    env = {
        **cosmos_emulator.settings(),
        "AzureWebJobsStorage": azurite.connection_string,
        "CONVERGIO_SECRETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "WEBSITE_INSTANCE_ID": instance,
        # hosted mode would refuse the emulator's self-signed certificate (COSMOS_VERIFY_TLS=false)
        "CONVERGIO_HOSTED": "false",
    }
    base = {k: v for k, v in os.environ.items() if k != "CONVERGIO_HOME"}
    yield {**base, **env}
    shutil.rmtree(default_home(env), ignore_errors=True)


def test_the_read_only_mount_really_is_read_only(package: Path) -> None:
    probe = subprocess.run(
        [*read_only(package), "touch", str(package / "probe")], capture_output=True, text=True
    )
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr


def test_tenants_graphs_and_a_lesson_plan_run_from_a_read_only_package(
    package: Path, azure_env: dict[str, str]
) -> None:
    added = subprocess.run(
        [*read_only(package), sys.executable, "-m", "convergio", "tenants", "add", "Read Only School"],
        cwd=package,
        env=azure_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    with HostProcess(package / "function_app.py", None, azure_env, wrap=read_only(package)) as host:
        with Api(host.base_url, key) as api:
            graphs = api.http.get("/graphs")
            assert graphs.status_code == 200, graphs.text
            assert "lesson-plan" in graphs.text
            run = api.wait(
                api.start(None, {"topic": "fractions", "grade": 4}, graph_ref="lesson-plan"), timeout=60
            )
            assert run["status"] == "Completed", run
            assert set(run["nodes"]) >= {"planner", "reviewer"}
        assert not any("Read-only file system" in line for line in host.lines), host.lines
    assert default_home(azure_env).is_dir()  # caches and the embedded durable store went to the temp home
    assert sorted(p.name for p in package.iterdir()) == sorted(APP_PARTS)  # nothing written beside the app


@pytest.fixture(scope="module")
def deployed_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make package``'s zip, unpacked as the platform's zip deployment lays it out."""
    out = tmp_path_factory.mktemp("dist") / "convergio-app.zip"
    built = subprocess.run(
        [sys.executable, str(ROOT / "infra" / "package.py"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    wwwroot = tmp_path_factory.mktemp("wwwroot")
    with zipfile.ZipFile(out) as archive:
        archive.extractall(wwwroot)
    return wwwroot


def test_the_built_package_serves_the_console_and_runs_a_graph_read_only(
    deployed_package: Path, azure_env: dict[str, str]
) -> None:
    """The zip alone is enough: the base interpreter, with only the package's own dependencies.

    No virtualenv, no repository: ``sys.path`` is the app folder and ``.python_packages``, as the
    Functions Python worker sets it, and the folder is read-only.
    """
    www = deployed_package
    python = getattr(sys, "_base_executable", sys.executable)
    site = www / ".python_packages" / "lib" / "site-packages"
    assert site.is_dir()
    env = {
        **{k: v for k, v in azure_env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "PYTHONPATH": str(site),
        "PYTHONNOUSERSITE": "1",
    }
    added = subprocess.run(
        [*read_only(www), python, "-m", "convergio", "tenants", "add", "Packaged School"],
        cwd=www,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip().splitlines()[-1]
    with HostProcess(www / "function_app.py", None, env, wrap=read_only(www), python=python) as host:
        console = httpx.get(f"{host.base_url}/api/app/", timeout=30)
        assert console.status_code == 200 and "<html" in console.text.lower()
        with Api(host.base_url, key) as api:
            run = api.wait(
                api.start(None, {"topic": "fractions", "grade": 4}, graph_ref="lesson-plan"), timeout=90
            )
            assert run["status"] == "Completed", run
        assert not any("Read-only file system" in line for line in host.lines), host.lines
        # the app ran on the package's own dependencies, not the tests' virtualenv
        assert not any(".venv" in line for line in host.lines if "Traceback" in line)
