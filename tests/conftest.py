"""Shared fixtures: a running docs-style app on the embedded host."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._helpers import DOCS_APP, HostProcess


@pytest.fixture(scope="module")
def count_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("counts")


@pytest.fixture(scope="module")
def docs_host(tmp_path_factory: pytest.TempPathFactory, count_dir: Path) -> Iterator[HostProcess]:
    """One host for a module's tests; replay verification is on (CONVERGIO_REPLAY_VERIFY=1)."""
    home = tmp_path_factory.mktemp("home")
    with HostProcess(DOCS_APP, home, {"COUNT_DIR": str(count_dir)}) as host:
        yield host
