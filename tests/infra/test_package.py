"""The deployable zip (infra/package.py, `make package`; ADR 0019): reproducible, and only the app."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convergio_package", ROOT / "infra" / "package.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


package = _load()

APP_TREE = {
    "function_app.py": "app = None\n",
    "host.json": "{}\n",
    "requirements.txt": "azure-functions==1.26.0\n",
    "requirements.lock": "azure-functions==1.26.0\n",
    "local.settings.json": "{}\n",
    "local.settings.sample.json": "{}\n",
    "README.md": "# readme\n",
    "pyproject.toml": "",
    "Makefile": "",
    "convergio/__init__.py": "",
    "convergio/metering/prices.json": "{}\n",
    "convergio/__pycache__/x.cpython-311.pyc": "bytecode",
    "convergio/kernels/__pycache__/_routing._idf-107.py311.nbi": "numba cache",
    "convergio/state.sqlite3": "db",
    "orchestrations/__init__.py": "",
    "activities/__init__.py": "",
    "plugins/README.md": "",
    "plugins/.gitignore": "*.wasm\n",
    "plugins/education/build.py": "",
    "plugins/education/common/edu.h": "",
    "plugins/education/edu-quiz/quiz.c": "",
    "plugins/education/edu-quiz/README.md": "",
    "plugins/education/edu-quiz/plugin.json": "{}\n",
    "plugins/education/edu-quiz/edu_quiz.wasm": "\0asm",
    "plugins/examples/kv-notes/plugin.json": "{}\n",
    "plugins/examples/kv-notes/kv_notes.wat": "(module)\n",
    "examples/graphs/lesson-plan.yaml": "name: x\n",
    "examples/notes.txt": "not a graph\n",
    "web/build/index.html": "<html></html>\n",
    "web/build/_app/immutable/app.js": "console.log(1)\n",
    "web/src/app.html": "",
    "web/node_modules/x/index.js": "",
    "web/package.json": "{}\n",
    "tests/test_x.py": "",
    "docs/adr/0001.md": "",
    "benchmarks/engine.py": "",
    "infra/main.bicep": "",
    "infra/package.py": "",
    ".venv/lib/python3.11/site-packages/x.py": "",
    ".infra-venv/bin/checkov": "",
    ".convergio/secrets.key": "secret",
    ".git/HEAD": "ref: refs/heads/main\n",
    "dist/sbom.cdx.json": "{}\n",
}
EXPECTED_APP = {
    "function_app.py",
    "host.json",
    "requirements.txt",
    "convergio/__init__.py",
    "convergio/metering/prices.json",
    "orchestrations/__init__.py",
    "activities/__init__.py",
    "plugins/education/edu-quiz/plugin.json",
    "plugins/education/edu-quiz/edu_quiz.wasm",
    "plugins/examples/kv-notes/plugin.json",
    "plugins/examples/kv-notes/kv_notes.wat",
    "examples/graphs/lesson-plan.yaml",
    "web/build/index.html",
    "web/build/_app/immutable/app.js",
}


def make_tree(root: Path, mtime: int, mode: int) -> Path:
    for name, text in APP_TREE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        os.utime(path, (mtime, mtime))
    shutil.copy(ROOT / ".funcignore", root / ".funcignore")
    return root


def make_site_packages(root: Path, mtime: int) -> Path:
    files = {
        "azure/functions/__init__.py": "",
        "azure_functions-1.26.0.dist-info/RECORD": "",
        "numpy/__pycache__/__init__.cpython-311.pyc": "bytecode",
        "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so": "\x7fELF",
        "bin/f2py": "#!/usr/bin/python\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, (mtime, mtime))
    return root


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def test_the_zip_holds_the_app_and_nothing_else(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo", 1_700_000_000, 0o644)
    out = package.build(tmp_path / "app.zip", root)
    assert set(names(out)) == EXPECTED_APP
    for name in names(out):
        assert not re.match(
            r"(tests|docs|benchmarks|infra|\.venv|\.infra-venv|\.git|\.convergio|dist)/", name
        )
        assert "__pycache__" not in name and not name.endswith((".pyc", ".sqlite3"))


def test_pre_installed_dependencies_go_under_python_packages(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo", 1_700_000_000, 0o644)
    site = make_site_packages(tmp_path / "site", 1_700_000_000)
    out = package.build(tmp_path / "app.zip", root, site)
    deps = {n for n in names(out) if n.startswith(".python_packages/")}
    assert deps == {
        ".python_packages/lib/site-packages/azure/functions/__init__.py",
        ".python_packages/lib/site-packages/azure_functions-1.26.0.dist-info/RECORD",
        ".python_packages/lib/site-packages/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so",
    }
    assert set(names(out)) - deps == EXPECTED_APP
    assert "requirements.txt" in names(out)


def test_same_inputs_give_byte_identical_zips(tmp_path: Path) -> None:
    """Different checkouts (mtimes, modes, creation order) of the same files: the same bytes."""
    first = make_tree(tmp_path / "a", 1_600_000_000, 0o644)
    second = make_tree(tmp_path / "b", 1_750_000_000, 0o755)
    site_a = make_site_packages(tmp_path / "site-a", 1_600_000_000)
    site_b = make_site_packages(tmp_path / "site-b", 1_750_000_000)
    one = package.build(tmp_path / "one.zip", first, site_a).read_bytes()
    two = package.build(tmp_path / "two.zip", second, site_b).read_bytes()
    assert hashlib.sha256(one).hexdigest() == hashlib.sha256(two).hexdigest()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3 and not info.extra and not info.is_dir()
    # and a changed file changes the zip
    (second / "host.json").write_text('{"version": "2.0"}\n', encoding="utf-8")
    three = package.build(tmp_path / "three.zip", second, site_b).read_bytes()
    assert three != two


def test_a_missing_console_build_fails_with_a_hint(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "repo", 1_700_000_000, 0o644)
    (root / "web" / "build" / "index.html").unlink()
    with pytest.raises(package.PackageError, match="make web"):
        package.build(tmp_path / "app.zip", root)
    assert not (tmp_path / "app.zip").exists()


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("convergio/__pycache__/x.pyc", True),
        ("web/src/routes/+page.svelte", True),
        ("web/build/index.html", False),
        ("tests/test_x.py", True),
        # "tests/" names a folder at any depth, as in git
        ("convergio/tests/helper.py", True),
        ("local.settings.json", True),
        ("infra/azuredeploy.json", True),
        ("convergio/data.sqlite3", True),
    ],
)
def test_funcignore_patterns(path: str, ignored: bool) -> None:
    patterns = package.read_ignore(ROOT / ".funcignore")
    assert package.is_ignored(path, patterns) is ignored


def test_the_real_tree_packs_the_app() -> None:
    """The repository's own files: the runtime parts and the built console, never the dev parts."""
    # make test builds the console before pytest; the package refuses to be built without it
    assert (ROOT / "web" / "build" / "index.html").is_file(), "the console is not built: run `make web`"
    files = package.app_files(ROOT)
    for name in (
        "function_app.py",
        "host.json",
        "requirements.txt",
        "convergio/__init__.py",
        "convergio/api/_web.py",
        "orchestrations/__init__.py",
        "activities/__init__.py",
        "examples/graphs/lesson-plan.yaml",
        "plugins/education/edu-quiz/plugin.json",
        "plugins/education/edu-quiz/edu_quiz.wasm",
        "web/build/index.html",
    ):
        assert name in files, name
    top = {name.split("/", 1)[0] for name in files}
    assert top <= {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "convergio",
        "orchestrations",
        "activities",
        "plugins",
        "examples",
        "web",
    }
    assert all(name.startswith("web/build/") for name in files if name.startswith("web/"))
    assert all(name.startswith("examples/graphs/") for name in files if name.startswith("examples/"))
    assert not [n for n in files if "__pycache__" in n or n.endswith((".pyc", ".c", ".h", ".md"))]


def test_make_package_target() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M)
    assert phony and "package" in phony.group(1).split()
    target = re.search(r"^package:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert target, "no package target"
    assert "web/build/index.html" in target.group(1)
    assert "infra/package.py" in target.group(2)


def test_pip_install_is_hash_locked_wheels_for_linux_cpython_311(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[list[str]] = []

    def fake_run(command: list[str], check: bool) -> None:
        seen.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "azure").mkdir(parents=True)

    monkeypatch.setattr(package.subprocess, "run", fake_run)
    lock = ROOT / "requirements.lock"
    target = tmp_path / "site"
    package.install_dependencies(lock, target, python="python3.11")
    package.install_dependencies(lock, target, python="python3.11")  # cached by the marker
    assert len(seen) == 1
    command = seen[0]
    for flag in ("--require-hashes", "--only-binary=:all:", "--no-compile"):
        assert flag in command
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[command.index("-r") + 1] == str(lock)
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms and all(p.startswith("manylinux") and p.endswith("_x86_64") for p in platforms)
