"""``load_app`` imports the ``function_app.py`` it is given, as the worker does, whatever apps
this process loaded before (the tests load several, each as ``function_app``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from convergio.host._functions import load_app

APP = """
import azure.functions as func
import azure.durable_functions as df

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.activity_trigger(input_name="value")
def {name}(value: str) -> str:
    return value
"""


def _app(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    path = folder / "function_app.py"
    path.write_text(APP.format(name=name))
    return path


@pytest.fixture
def keep_modules() -> object:
    """Leave ``sys.modules`` and ``sys.path`` as they were (other tests load their own apps)."""
    before, path = sys.modules.get("function_app"), list(sys.path)
    yield None
    sys.path[:] = path
    if before is None:
        sys.modules.pop("function_app", None)
    else:
        sys.modules["function_app"] = before


@pytest.mark.usefixtures("keep_modules")
def test_each_load_imports_the_file_it_names_even_one_loaded_before(tmp_path: Path) -> None:
    first, second = _app(tmp_path, "first_app"), _app(tmp_path, "second_app")
    assert set(load_app(first).activities) == {"first_app"}
    assert set(load_app(second).activities) == {"second_app"}
    assert set(load_app(first).activities) == {"first_app"}  # its folder is on sys.path already
    assert sys.modules["function_app"].__file__ == str(first)
