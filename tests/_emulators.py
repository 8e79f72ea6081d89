"""Real Azure emulators on loopback, started once per test session and stopped by pid.

- Cosmos DB: ``@vercel/cosmosdb-server`` (the SQL API over HTTPS with a self-signed
  certificate; any key is accepted). Known limits, designed around in the adapters: a point
  read of a missing document answers 500 (so reads are queries on id), a wrong partition key
  answers 500, no transactional batch beyond create, no change feed, no TTL.
- Blob Storage: Azurite (``azurite-blob``), with its documented development account.

Both come from ``tests/emulators/package.json``, installed by ``make test`` (``npm ci``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AZURITE_ACCOUNT", "Azurite", "CosmosEmulator", "emulator_bin", "free_port"]

BIN = Path(__file__).resolve().parent / "emulators" / "node_modules" / ".bin"
# Azurite's published development account (not a secret: it is in Azurite's own documentation).
AZURITE_ACCOUNT = "devstoreaccount1"
_AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
COSMOS_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="


def emulator_bin(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make test` (it installs tests/emulators with npm ci)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"emulator did not listen on {port} within {timeout_s} s")


class _Process:
    process: subprocess.Popen[bytes] | None = None

    def _start(self, argv: list[str], port: int, log: Path) -> None:
        with log.open("wb") as out:
            # A process group of its own, so stopping it stops node's children too.
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        _wait_for_port(port, self.process)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@dataclass
class CosmosEmulator(_Process):
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    key: str = COSMOS_KEY

    def start(self, workdir: Path) -> CosmosEmulator:
        """Start on ``port`` (a free one when 0), e.g. again on the same port after ``stop``."""
        self.port = self.port or free_port()
        argv = [str(emulator_bin("cosmosdb-server")), "--host", "127.0.0.1", "-p", str(self.port)]
        self._start(argv, self.port, workdir / "cosmos.log")
        return self

    def settings(self, database: str | None = None) -> dict[str, str]:
        """The app settings that point Convergio at this emulator (a fresh database unless named)."""
        return {
            "COSMOS_ENDPOINT": self.endpoint,
            "COSMOS_DATABASE": database or f"db{uuid.uuid4().hex[:12]}",
            "COSMOS_KEY": self.key,
            "COSMOS_VERIFY_TLS": "false",
        }


@dataclass
class Azurite(_Process):
    port: int = 0

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={_AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};"
        )

    def start(self, workdir: Path) -> Azurite:
        self.port = free_port()
        data = workdir / "azurite"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        argv = [
            str(emulator_bin("azurite-blob")),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.port),
            "--location",
            str(data),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
        ]
        self._start(argv, self.port, workdir / "azurite.log")
        return self
