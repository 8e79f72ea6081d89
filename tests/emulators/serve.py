"""``make serve-emulated``: the app on the shared control plane, with real emulators on loopback.

Starts the npm Cosmos DB server and Azurite (as the tests do), prints the settings that point
Convergio at them, then serves the app on the embedded host with those settings, so every
tenant, key, budget, hook, plugin and stream event lives in the emulators, as on Azure. Run a
second copy with another ``--home`` and ``--port`` and the same settings (``--attach``) to see
two instances share one control plane. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests._emulators import Azurite, CosmosEmulator

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(prog="make serve-emulated", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--home", type=Path, default=ROOT / ".convergio-emulated")
    args = parser.parse_args()
    # SIGTERM (a supervisor, `timeout`) stops the emulators too: SystemExit runs the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    work = Path(tempfile.mkdtemp(prefix="convergio-emulators-"))
    cosmos, azurite = CosmosEmulator().start(work), Azurite().start(work)
    settings = {
        **cosmos.settings("convergio"),
        "AzureWebJobsStorage": azurite.connection_string,
        "CONVERGIO_SECRETS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    print("control plane on the emulators; these settings point another instance or the CLI at it:")
    for name, value in settings.items():
        print(f"  export {name}='{value}'")
    command = [sys.executable, "-m", "convergio", "start", "--port", str(args.port), "--home", str(args.home)]
    host = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **settings})
    try:
        return host.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if host.poll() is None:
            host.terminate()
            host.wait(10)
        azurite.stop()
        cosmos.stop()


if __name__ == "__main__":
    sys.exit(main())
