"""Fixtures for the metering tests: numba's on-disk cache in a temporary directory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def numba_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point NUMBA_CACHE_DIR at a fresh directory (on Azure the app settings set it)."""
    path = tmp_path_factory.mktemp("numba-cache")
    before = os.environ.get("NUMBA_CACHE_DIR")
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    if "numba" in sys.modules:  # imported earlier in the session: make it read the variable again
        from numba.core import config

        config.reload_config()
    yield path
    if before is None:
        os.environ.pop("NUMBA_CACHE_DIR", None)
    else:
        os.environ["NUMBA_CACHE_DIR"] = before
