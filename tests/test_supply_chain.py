"""Supply chain (ADR 0015): hash-locked installs and the CycloneDX SBOM of the deployed package."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests._helpers import ROOT

# Each human-edited requirements file and the lock `make lock` resolves it into.
LOCKS = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "requirements-infra.txt": "requirements-infra.lock",
    "benchmarks/requirements.txt": "benchmarks/requirements.lock",
    "requirements-tools.txt": "requirements-tools.lock",
}
SBOM = ROOT / "dist" / "sbom.cdx.json"
GENERATOR = ROOT / ".tools-venv" / "bin" / "cyclonedx-py"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)$")
_HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entries(lock: str) -> list[str]:
    """The lock's requirement entries, continuation lines joined, comments dropped."""
    text = (ROOT / lock).read_text()
    lines = [line.split(" #", 1)[0].rstrip() for line in text.splitlines()]
    joined = "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return [entry.strip() for entry in joined.replace("\\\n", " ").splitlines() if entry.strip()]


def _lock_pins(lock: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for entry in _entries(lock):
        match = _PIN.match(entry.split()[0])
        assert match, f"{lock}: not an exact pin: {entry[:80]}"
        pins[_name(match[1])] = match[2]
    return pins


def _requirement_pins(path: str) -> dict[str, str]:
    """The exact pins of a requirements file, following -r includes."""
    pins: dict[str, str] = {}
    for raw in (ROOT / path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(_requirement_pins(str(Path(path).parent / line[3:].strip())))
            continue
        match = _PIN.match(line)
        assert match, f"{path}: not an exact pin: {line}"
        pins[_name(match[1])] = match[2]
    return pins


@pytest.mark.parametrize("lock", sorted(LOCKS.values()))
def test_every_lock_entry_is_an_exact_pin_with_sha256_hashes(lock: str) -> None:
    entries = _entries(lock)
    assert entries, lock
    for entry in entries:
        pin, *options = entry.split()
        assert _PIN.match(pin), f"{lock}: {pin}"
        assert options, f"{lock}: {pin} has no --hash"
        assert all(_HASH.match(option) for option in options), f"{lock}: {pin}: {options}"


@pytest.mark.parametrize(("requirements", "lock"), sorted(LOCKS.items()))
def test_every_pin_is_in_its_lock_at_the_same_version(requirements: str, lock: str) -> None:
    pins = _requirement_pins(requirements)
    locked = _lock_pins(lock)
    assert pins
    stale = {
        name: (version, locked.get(name)) for name, version in pins.items() if locked.get(name) != version
    }
    assert stale == {}, f"{lock} is out of date with {requirements}: run `make lock`"


def test_the_dev_lock_holds_the_app_lock_at_the_same_versions() -> None:
    app = _lock_pins("requirements.lock")
    dev = _lock_pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in app} == app


def _rules(makefile: str) -> dict[str, tuple[str, list[str]]]:
    """target -> (prerequisites, recipe lines), for the Makefile's explicit rules."""
    rules: dict[str, tuple[str, list[str]]] = {}
    target = None
    for line in makefile.splitlines():
        if line.startswith("\t") and target is not None:
            rules[target][1].append(line.strip())
        elif re.match(r"^[^\s#=]+:(?!=)", line) and ":=" not in line.split(":", 1)[0]:
            name, prerequisites = line.split(":", 1)
            target = name.strip()
            rules[target] = (prerequisites.strip(), [])
        elif not line.startswith("\t"):
            target = None
    return rules


def test_the_makefile_installs_every_virtualenv_from_a_lock_with_require_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    locked = re.search(r"^PIP_LOCKED\s*=\s*(.+)$", makefile, re.M)
    assert locked and "pip install" in locked[1] and "--require-hashes" in locked[1]
    assert locked[1].rstrip().endswith("-r")
    rules = _rules(makefile)
    stamps = {
        "$(RUNTIME)": "requirements.lock",
        "$(DEV)": "requirements-dev.lock",
        "$(INFRA)": "requirements-infra.lock",
        "$(PEERS)": "benchmarks/requirements.lock",
        "$(TOOLS)": "requirements-tools.lock",
    }
    for stamp, lock in stamps.items():
        prerequisites, recipe = rules[stamp]
        # A lock change makes the stamp stale, so the virtualenv reinstalls.
        assert lock in prerequisites.split(), stamp
        assert any(line.endswith(f"$(PIP_LOCKED) {lock}") for line in recipe), stamp
    # No other way in: every pip install in the Makefile goes through the hash-checked one.
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert installs == [locked[0]]
    for line in makefile.splitlines():
        if "$(PIP_LOCKED)" in line and not line.startswith("PIP_LOCKED"):
            assert line.rstrip().endswith(".lock"), line


def _sbom_components(document: dict[str, object]) -> dict[str, str]:
    components = document["components"]
    assert isinstance(components, list)
    return {_name(c["name"]): c["version"] for c in components}


def test_the_committed_sbom_lists_the_app_lock_and_nothing_else() -> None:
    document = json.loads(SBOM.read_text())
    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.6"
    assert document["metadata"]["component"]["name"] == "convergio-core"
    components = _sbom_components(document)
    assert components == _lock_pins("requirements.lock"), "dist/sbom.cdx.json is stale: run `make sbom`"
    durable = _requirement_pins("requirements.txt")["azure-functions-durable"]
    assert components["azure-functions-durable"] == durable
    dev_only = set(_lock_pins("requirements-dev.lock")) - set(_lock_pins("requirements.lock"))
    assert "pytest" in dev_only and not dev_only & set(components)
    purls = {c["purl"] for c in document["components"]}
    assert f"pkg:pypi/azure-functions-durable@{durable}" in purls


def test_the_pinned_generator_reproduces_the_committed_sbom(tmp_path: Path) -> None:
    assert GENERATOR.exists(), "the tools virtualenv is missing: run `make sbom` (make test installs it)"
    out = tmp_path / "sbom.cdx.json"
    command = [
        str(GENERATOR), "requirements", "requirements.lock", "--pyproject", "pyproject.toml",
        "--mc-type", "application", "--sv", "1.6", "--of", "JSON", "--output-reproducible", "-o", str(out),
    ]  # fmt: skip
    makefile = (ROOT / "Makefile").read_text()
    assert " ".join(command[1:-2]) in makefile.replace("\\\n\t", "").replace("  ", " ")
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    generated = json.loads(out.read_text())
    assert (
        _sbom_components(generated)["azure-functions-durable"]
        == _lock_pins("requirements.lock")["azure-functions-durable"]
    )
    assert generated == json.loads(SBOM.read_text())
