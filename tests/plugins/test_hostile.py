"""Hostile plugins: each is stopped with a clear, coded error, and the host keeps serving."""

from __future__ import annotations

import json
import re
import resource
from pathlib import Path

import pytest

from convergio.plugins import (
    InvalidManifest,
    InvalidModule,
    InvalidOutput,
    Limits,
    MemoryLimitExceeded,
    OutOfFuel,
    OutputTooLarge,
    PluginError,
    PluginHost,
    PluginRegistry,
    PluginTooLarge,
    PluginTrap,
    TableLimitExceeded,
    UngrantedImport,
    WallTimeExceeded,
)
from convergio.plugins._host import MAX_TABLE_ELEMENTS
from tests.plugins._wat import SPIN, constant_answer, module, write_plugin
from tests.plugins.conftest import EXAMPLES, TENANT

MEMORY_BOMB = module(
    """    (loop $more
      i32.const 1
      memory.grow
      i32.const -1
      i32.ne
      br_if $more)
    unreachable"""
)

TRAP = module("    unreachable")

HUGE_OUTPUT = module(
    "    i32.const 1048576\n    call $alloc\n    i64.extend_i32_u\n    i64.const 32\n    i64.shl\n"
    "    i64.const 1048576\n    i64.or"
)

OUT_OF_BOUNDS = module("    i64.const 0x7fff000000000010")

NOT_JSON = module(constant_answer("this is not json")[1], data=constant_answer("this is not json")[0])

WRONG_SHAPE = module(constant_answer('{"answer": 42}')[1], data=constant_answer('{"answer": 42}')[0])

WASI_FILE = module(
    "    i64.const 0",
    imports='(import "wasi_snapshot_preview1" "path_open" '
    "(func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))",
)

WASI_SOCKET = module(
    "    i64.const 0",
    imports='(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))',
)

HTTP_IMPORT = module(
    "    i64.const 0", imports='(import "convergio" "http_fetch" (func (param i32 i32) (result i64)))'
)


def assert_still_serving(registry: PluginRegistry) -> None:
    """A good plugin answers right after a hostile one."""
    if "text-stats" not in {p.manifest.name for p in registry.list(TENANT)}:
        registry.install(TENANT, EXAMPLES / "text-stats")
    answer = registry.call_plugin_tool(TENANT, "text-stats.stats", {"text": "still serving"})
    assert json.loads(answer) == {"chars": 13, "words": 2, "lines": 1}


@pytest.mark.parametrize(
    ("wat", "limits", "error", "code", "words"),
    [
        (SPIN, {"fuel": 100_000}, OutOfFuel, "out_of_fuel", "ran out of fuel"),
        (MEMORY_BOMB, {"memory_pages": 8}, MemoryLimitExceeded, "memory_limit_exceeded", "8 of 8 pages"),
        (TRAP, {}, PluginTrap, "plugin_trap", "unreachable"),
        (
            HUGE_OUTPUT,
            {"memory_pages": 64, "output_bytes": 1024},
            OutputTooLarge,
            "output_too_large",
            "1048576",
        ),
        (OUT_OF_BOUNDS, {}, InvalidOutput, "invalid_output", "out-of-bounds"),
        (NOT_JSON, {}, InvalidOutput, "invalid_output", "invalid JSON"),
        (WRONG_SHAPE, {}, InvalidOutput, "invalid_output", '"result"'),
    ],
    ids=[
        "infinite-loop",
        "memory-bomb",
        "trap",
        "oversized-output",
        "bad-pointer",
        "not-json",
        "wrong-shape",
    ],
)
def test_a_hostile_call_is_stopped_with_a_clear_error(
    tmp_path: Path,
    registry: PluginRegistry,
    wat: str,
    limits: dict[str, int],
    error: type[PluginError],
    code: str,
    words: str,
) -> None:
    registry.install(TENANT, write_plugin(tmp_path / "src", "hostile", wat, limits=limits))
    for _ in range(2):  # the same plugin fails the same way twice: nothing leaks between calls
        with pytest.raises(error) as caught:
            registry.call_plugin_tool(TENANT, "hostile.run", {})
        assert caught.value.code == code
        assert "hostile" in caught.value.message and words in caught.value.message
        assert_still_serving(registry)


def test_a_call_past_its_wall_time_is_interrupted(tmp_path: Path) -> None:
    ceilings = Limits(fuel=10_000_000_000, memory_pages=64, wall_time_ms=5_000, output_bytes=1024)
    with PluginHost(ceilings=ceilings) as host:
        registry = PluginRegistry(tmp_path / "installed", host=host)
        limits = {"fuel": 10_000_000_000, "wall_time_ms": 50}
        registry.install(TENANT, write_plugin(tmp_path / "src", "sleeper", SPIN, limits=limits))
        with pytest.raises(WallTimeExceeded, match="50 ms wall time") as caught:
            registry.call_plugin_tool(TENANT, "sleeper.run", {})
        assert caught.value.code == "wall_time_exceeded"
        assert_still_serving(registry)


@pytest.mark.parametrize(
    ("wat", "import_name"),
    [
        (WASI_FILE, "wasi_snapshot_preview1.path_open"),
        (WASI_SOCKET, "wasi_snapshot_preview1.sock_accept"),
        (HTTP_IMPORT, "convergio.http_fetch"),
    ],
    ids=["wasi-file", "wasi-socket", "unrequested-capability"],
)
def test_an_import_outside_the_manifest_is_refused_at_install(
    tmp_path: Path, registry: PluginRegistry, wat: str, import_name: str
) -> None:
    with pytest.raises(UngrantedImport) as caught:
        registry.install(TENANT, write_plugin(tmp_path / "src", "sneaky", wat))
    assert caught.value.import_name == import_name
    assert import_name in caught.value.message and caught.value.code == "ungranted_import"
    assert registry.list(TENANT) == []
    assert_still_serving(registry)


def test_a_requested_but_ungranted_capability_is_refused_at_load_naming_the_import(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    source = write_plugin(
        tmp_path / "src", "fetcher", HTTP_IMPORT, capabilities={"http": {"hosts": ["a.test"]}}
    )
    registry.install(TENANT, source)
    with pytest.raises(
        UngrantedImport, match=r"imports convergio\.http_fetch: that capability is not granted"
    ):
        registry.call_plugin_tool(TENANT, "fetcher.run", {})
    assert_still_serving(registry)


def test_a_wasi_import_is_refused_even_by_the_host_directly(host: PluginHost) -> None:
    from convergio.plugins._package import wat_to_wasm

    compiled = host.compile(wat_to_wasm(WASI_FILE))
    with pytest.raises(UngrantedImport, match="WASI is not available"):
        host.check_imports(compiled, frozenset(), plugin="x", why="granted")


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        ("{not json", "not UTF-8 JSON"),
        ('{"name": "x"}', "version: Field required"),
        (
            '{"name": "Bad Name", "version": "1.0.0", "description": "d", "module": "m.wasm", "tools": []}',
            "name",
        ),
    ],
)
def test_a_malformed_manifest_is_refused(
    tmp_path: Path, registry: PluginRegistry, manifest: str, words: str
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "plugin.json").write_text(manifest, encoding="utf-8")
    with pytest.raises(InvalidManifest, match=words) as caught:
        registry.install(TENANT, folder)
    assert caught.value.code == "invalid_manifest"
    assert_still_serving(registry)


def test_unknown_manifest_fields_and_capabilities_are_refused(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    source = write_plugin(tmp_path / "src", "typo", TRAP, capabilities={"files": {}})
    with pytest.raises(InvalidManifest, match=r"capabilities\.files: Extra inputs are not permitted"):
        registry.install(TENANT, source)


def test_a_module_that_does_not_compile_is_refused(tmp_path: Path, registry: PluginRegistry) -> None:
    source = write_plugin(tmp_path / "src", "garbage", TRAP)
    (source / "module.wasm").write_bytes(b"\0asm\x01\0\0\0garbage")
    with pytest.raises(InvalidModule, match="does not compile") as caught:
        registry.install(TENANT, source)
    assert caught.value.code == "invalid_module"
    assert_still_serving(registry)


def test_a_module_without_the_abi_exports_is_refused(tmp_path: Path, registry: PluginRegistry) -> None:
    source = write_plugin(tmp_path / "src", "bare", '(module (memory (export "memory") 1))')
    with pytest.raises(InvalidModule, match="'alloc'"):
        registry.install(TENANT, source)


def test_a_module_that_needs_more_memory_than_its_limit_is_refused(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    source = write_plugin(tmp_path / "src", "greedy", TRAP.replace("(memory (export", "(memory (export", 1))
    (source / "module.wat").write_text(
        TRAP.replace('(memory (export "memory") 1)', '(memory (export "memory") 100)')
    )
    registry.install(TENANT, source)
    (tmp_path / "installed" / TENANT / "greedy").exists()
    payload = json.loads((source / "plugin.json").read_text())
    payload["limits"] = {"memory_pages": 10}
    (source / "plugin.json").write_text(json.dumps(payload))
    registry.install(TENANT, source)
    with pytest.raises(MemoryLimitExceeded, match="needs 100 memory pages at start"):
        registry.call_plugin_tool(TENANT, "greedy.run", {})


def test_an_oversized_module_is_refused(tmp_path: Path, registry: PluginRegistry) -> None:
    from convergio.plugins import _package

    source = write_plugin(tmp_path / "src", "big", TRAP)
    (source / "module.wasm").write_bytes(b"\0" * (_package.MAX_MODULE_BYTES + 1))
    with pytest.raises(PluginTooLarge):
        registry.install(TENANT, source)


# -- tables (issue 18.10): one table.grow by 100M elements took the host to 1 GB of RSS, and kept it


GROWN, REFUSED = '{"result": "grown"}', '{"result": -1}'
ANSWERS = "".join(
    f'(data (i32.const {at}) "{text.replace(chr(34), chr(92) + chr(34))}")'
    for at, text in ((128, GROWN), (256, REFUSED))
)


def _grow_table(by: int, *, abort: bool) -> str:
    """``call`` grows table $t by ``by`` null refs; refused, it traps (``abort``) or answers -1."""
    refused = "unreachable" if abort else f"i64.const {(256 << 32) | len(REFUSED)}\n      return"
    body = f"""    ref.null func
    i32.const {by}
    table.grow $t
    i32.const -1
    i32.eq
    if
      {refused}
    end
    i64.const {(128 << 32) | len(GROWN)}"""
    return module(body, data=ANSWERS, extra="(table $t 1 funcref)")


def test_a_table_grown_past_the_limit_fails_the_call_and_the_host_keeps_serving(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    bomb = _grow_table(100_000_000, abort=True)  # a guest that aborts when refused, as runtimes do
    registry.install(TENANT, write_plugin(tmp_path / "src", "tables", bomb))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3):
        with pytest.raises(PluginTrap) as caught:
            registry.call_plugin_tool(TENANT, "tables.run", {})
        assert caught.value.code == "plugin_trap" and "unreachable" in caught.value.message
        assert_still_serving(registry)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kib < 256 * 1024


def test_a_table_grow_past_the_limit_returns_minus_one_and_one_within_it_works(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    registry.install(
        TENANT, write_plugin(tmp_path / "src", "past", _grow_table(MAX_TABLE_ELEMENTS, abort=False))
    )
    assert registry.call_plugin_tool(TENANT, "past.run", {}) == "-1"
    within = _grow_table(MAX_TABLE_ELEMENTS - 1, abort=True)
    registry.install(TENANT, write_plugin(tmp_path / "src", "within", within))
    assert registry.call_plugin_tool(TENANT, "within.run", {}) == "grown"


@pytest.mark.parametrize(
    ("tables", "words"),
    [
        ("(table 100000000 funcref)", "table minimum size"),
        (
            '(table (export "t") 100000000 funcref)',
            f"needs 100000000 table elements at start (limit {MAX_TABLE_ELEMENTS})",
        ),
        ("(table 1 funcref)" * 5, "table count"),
    ],
    ids=["hidden-table", "exported-table", "too-many-tables"],
)
def test_a_module_that_starts_with_too_much_table_is_refused(
    tmp_path: Path, registry: PluginRegistry, tables: str, words: str
) -> None:
    registry.install(TENANT, write_plugin(tmp_path / "src", "wide", module("    i64.const 0", extra=tables)))
    with pytest.raises(TableLimitExceeded, match=re.escape(words)) as caught:
        registry.call_plugin_tool(TENANT, "wide.run", {})
    assert caught.value.code == "table_limit_exceeded"
    assert_still_serving(registry)
