"""A control plane that is down answers 503 (never a cached 500), and the app recovers with it."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from tests._emulators import Azurite, CosmosEmulator, free_port
from tests._helpers import HostProcess
from tests.api.conftest import APP, Api
from tests.api.test_two_instances import cli


def test_an_outage_is_a_503_and_the_app_recovers_when_cosmos_does(tmp_path: Path, azurite: Azurite) -> None:
    cosmos = CosmosEmulator(port=free_port())  # not started yet: the backend is down
    env = {
        **cosmos.settings(),
        "AzureWebJobsStorage": azurite.connection_string,
        "CONVERGIO_SECRETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "CONVERGIO_HOSTED": "false",
    }
    try:
        with HostProcess(APP, tmp_path / "home", env) as host:
            with Api(host.base_url, "cvg_" + "a" * 40) as api:
                down = api.http.get("/graphs")
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "store_unavailable"
            assert env["COSMOS_KEY"] not in down.text

            cosmos.start(tmp_path)  # the backend comes back: no restart of the app
            key = cli(env, tmp_path / "cli", "tenants", "add", "Outage School")
            with Api(host.base_url, key) as api:
                assert api.http.get("/graphs").status_code == 200
                cosmos.stop()  # down again, after the app had connected
                again = api.http.get("/graphs")
            assert again.status_code == 503, again.text
            assert env["COSMOS_KEY"] not in "\n".join(host.lines)
    finally:
        cosmos.stop()
