"""The WebAssembly plugin host on wasmtime: compile once, then one fresh sandbox per call.

The engine counts fuel and checks an epoch deadline, so both endless loops and slow host calls
end; each call gets its own ``Store`` (fuel, deadline, and resource limits: its memory, at most
``MAX_TABLES`` tables of ``MAX_TABLE_ELEMENTS`` elements, one instance and one memory) and its own
``Linker`` holding only the granted capabilities, so nothing leaks between calls or tenants.
Past a limit, ``memory.grow`` and ``table.grow`` return -1 to the guest (the WebAssembly rule);
a guest that traps then gets a coded error, and one that starts too big is refused. Compiled modules are
cached in memory by the SHA-256 of their bytes and, optionally, serialised to a cache folder.
Every failure becomes a ``PluginError`` subclass; the host itself keeps serving.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

from convergio import _json as bounded_json

from ._abi import HOST_MODULE, PAGE_BYTES, unpack
from ._capabilities import CallContext, define_capabilities
from ._errors import (
    InvalidModule,
    InvalidOutput,
    MemoryLimitExceeded,
    OutOfFuel,
    OutputTooLarge,
    PluginError,
    PluginTrap,
    TableLimitExceeded,
    UngrantedImport,
    WallTimeExceeded,
)
from ._manifest import Limits

__all__ = ["MAX_TABLES", "MAX_TABLE_ELEMENTS", "CacheStats", "PluginHost"]

MAX_TABLE_ELEMENTS = 65_536
"""Elements one table may hold (a few MB at most). Unbounded, one ``table.grow`` by 100M
elements took the host to 1 GB of RSS, and kept it."""
MAX_TABLES = 4

_I32 = wasmtime.ValType.i32()
_I64 = wasmtime.ValType.i64()


@dataclass(slots=True)
class CacheStats:
    """Counters of the module cache.

    Attributes:
        compiles: Modules compiled from wasm bytes.
        memory_hits: Calls served by the in-memory cache.
        disk_hits: Modules deserialised from the cache folder instead of compiled.
    """

    compiles: int = 0
    memory_hits: int = 0
    disk_hits: int = 0


class PluginHost:
    """Runs plugin modules under limits.

    Args:
        ceilings: The highest limits any plugin gets; a manifest may ask for less, not more.
        cache_dir: A folder for serialised compiled modules (host-owned; never user-writable).
        cache_modules: Keep compiled modules in memory (turn off only to measure the cache).
        epoch_tick_ms: How often the wall-time clock ticks.
        table_elements: The most elements any one table of a plugin may hold.

    Raises:
        ValueError: ``epoch_tick_ms`` below 1.
    """

    def __init__(
        self,
        *,
        ceilings: Limits | None = None,
        cache_dir: Path | None = None,
        cache_modules: bool = True,
        epoch_tick_ms: int = 5,
        table_elements: int = MAX_TABLE_ELEMENTS,
    ) -> None:
        if epoch_tick_ms < 1:
            raise ValueError("epoch_tick_ms must be >= 1")
        if table_elements < 1:
            raise ValueError("table_elements must be >= 1")
        self.table_elements = table_elements
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        config.wasm_threads = False
        self.engine = wasmtime.Engine(config)
        self.ceilings = ceilings or Limits(
            fuel=1_000_000_000, memory_pages=1024, wall_time_ms=10_000, output_bytes=1024 * 1024
        )
        self.cache_dir = cache_dir
        self.cache_modules = cache_modules
        self.stats = CacheStats()
        self._tick_s = epoch_tick_ms / 1000
        self._modules: dict[str, wasmtime.Module] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def close(self) -> None:
        """Stop the wall-time clock thread (the host cannot run calls after this)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def __enter__(self) -> PluginHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compile(self, wasm: bytes) -> wasmtime.Module:
        """Return the compiled module for these bytes, from the cache when possible.

        Args:
            wasm: A binary WebAssembly module.

        Returns:
            The compiled module.

        Raises:
            InvalidModule: the bytes are not a valid module.
        """
        digest = hashlib.sha256(wasm).hexdigest()
        with self._lock:
            module = self._modules.get(digest)
            if module is not None:
                self.stats.memory_hits += 1
                return module
            module = self._load_serialised(digest)
            if module is None:
                try:
                    module = wasmtime.Module(self.engine, wasm)
                except wasmtime.WasmtimeError as exc:
                    raise InvalidModule(f"the module does not compile: {_first_line(exc)}") from None
                self.stats.compiles += 1
                self._store_serialised(digest, module)
            if self.cache_modules:
                self._modules[digest] = module
            return module

    def check_imports(
        self, module: wasmtime.Module, allowed: frozenset[str], *, plugin: str, why: str
    ) -> None:
        """Refuse a module that imports anything outside ``allowed``.

        Args:
            module: The compiled module.
            allowed: ``convergio.*`` names it may import.
            plugin: The plugin name, for the message.
            why: What ``allowed`` is, for the message (``granted``, ``requested in its manifest``).

        Raises:
            UngrantedImport: the first import outside ``allowed``, named in the message.
        """
        for item in module.imports:
            name = f"{item.module}.{item.name}"
            if name in allowed:
                continue
            if item.module.startswith("wasi"):
                reason = "WASI is not available to plugins (no files, sockets or clocks)"
            elif item.module != HOST_MODULE:
                reason = f"only {HOST_MODULE}.* capabilities can be imported"
            else:
                reason = f"that capability is not {why}"
            raise UngrantedImport(f"plugin {plugin!r} imports {name}: {reason}", import_name=name)

    def check_exports(self, module: wasmtime.Module, *, plugin: str) -> None:
        """Refuse a module that does not export the ABI.

        Args:
            module: The compiled module.
            plugin: The plugin name, for the message.

        Raises:
            InvalidModule: ``memory``, ``alloc(i32) -> i32`` or ``call(i32, i32) -> i64`` is missing.
        """
        exports = {item.name: item.type for item in module.exports}
        wanted = {"alloc": ([_I32], [_I32]), "call": ([_I32, _I32], [_I64])}
        if not isinstance(exports.get("memory"), wasmtime.MemoryType):
            raise InvalidModule(f"plugin {plugin!r} does not export its memory as 'memory'")
        for name, (params, results) in wanted.items():
            kind = exports.get(name)
            if not isinstance(kind, wasmtime.FuncType) or (kind.params, kind.results) != (params, results):
                raise InvalidModule(f"plugin {plugin!r} does not export the ABI function {name!r}")

    def call(
        self, wasm: bytes, request: dict[str, Any], *, limits: Limits, context: CallContext
    ) -> dict[str, Any]:
        """Run one call in a fresh sandbox.

        Args:
            wasm: The module bytes (compiled once, then cached).
            request: ``{"tool": name, "arguments": {...}}``.
            limits: The plugin's limits (capped at the host's ceilings).
            context: The tenant, plugin and grants of the call.

        Returns:
            The guest's answer, ``{"result": ...}`` or ``{"error": "..."}``.

        Raises:
            PluginError: a subclass naming what went wrong (see ``convergio.plugins``).
        """
        module = self.compile(wasm)
        self.check_imports(module, context.grants.imports(), plugin=context.plugin, why="granted")
        self.check_exports(module, plugin=context.plugin)
        limits = self.effective(limits)
        self._check_initial_memory(module, limits, context.plugin)
        self._start_ticker()
        store = wasmtime.Store(self.engine)
        store.set_fuel(limits.fuel)
        store.set_limits(
            memory_size=limits.memory_pages * PAGE_BYTES,
            table_elements=self.table_elements,
            instances=1,
            tables=MAX_TABLES,
            memories=1,
        )
        store.set_epoch_deadline(math.ceil(limits.wall_time_ms / 1000 / self._tick_s) + 1)
        context.deadline = time.monotonic() + limits.wall_time_ms / 1000
        linker = wasmtime.Linker(self.engine)
        define_capabilities(linker, context)
        payload = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
        memory: Any = None
        try:
            instance = linker.instantiate(store, module)
            exports = instance.exports(store)
            memory, alloc, entry = exports["memory"], exports["alloc"], exports["call"]
            assert isinstance(memory, wasmtime.Memory)
            assert isinstance(alloc, wasmtime.Func) and isinstance(entry, wasmtime.Func)
            ptr = _guest_range(
                alloc(store, len(payload)), len(payload), memory, store, f"plugin {context.plugin!r}: alloc"
            )
            memory.write(store, payload, ptr)
            answer = entry(store, ptr, len(payload))
        except PluginError:
            raise
        except wasmtime.Trap as trap:
            raise _classify(trap, memory, store, limits, context.plugin) from None
        except wasmtime.WasmtimeError as exc:
            raise self._start_failure(exc, context.plugin) from None
        if time.monotonic() > context.deadline:
            raise WallTimeExceeded(
                f"plugin {context.plugin!r} ran over its {limits.wall_time_ms} ms wall time"
            )
        if not isinstance(answer, int):
            raise InvalidOutput(f"plugin {context.plugin!r} returned no result")
        out_ptr, out_len = unpack(answer)
        if out_len > limits.output_bytes:
            raise OutputTooLarge(
                f"plugin {context.plugin!r} returned {out_len} bytes (limit {limits.output_bytes})"
            )
        _guest_range(out_ptr, out_len, memory, store, f"plugin {context.plugin!r}: call")
        return _decode(bytes(memory.read(store, out_ptr, out_ptr + out_len)), context.plugin)

    def effective(self, limits: Limits) -> Limits:
        """Cap a plugin's limits at the host's ceilings.

        Args:
            limits: What the manifest asks for.

        Returns:
            Each limit, no higher than the ceiling.
        """
        ceilings = self.ceilings
        return Limits(
            fuel=min(limits.fuel, ceilings.fuel),
            memory_pages=min(limits.memory_pages, ceilings.memory_pages),
            wall_time_ms=min(limits.wall_time_ms, ceilings.wall_time_ms),
            output_bytes=min(limits.output_bytes, ceilings.output_bytes),
        )

    def _check_initial_memory(self, module: wasmtime.Module, limits: Limits, plugin: str) -> None:
        for item in module.exports:
            if isinstance(item.type, wasmtime.MemoryType) and item.type.limits.min > limits.memory_pages:
                raise MemoryLimitExceeded(
                    f"plugin {plugin!r} needs {item.type.limits.min} memory pages at start "
                    f"(limit {limits.memory_pages})"
                )
            if isinstance(item.type, wasmtime.TableType) and item.type.limits.min > self.table_elements:
                raise TableLimitExceeded(
                    f"plugin {plugin!r} needs {item.type.limits.min} table elements at start "
                    f"(limit {self.table_elements})"
                )

    def _start_failure(self, exc: wasmtime.WasmtimeError, plugin: str) -> PluginError:
        """Instantiation refused: tables past the store's limits (tables need not be exported,
        so the limiter is what sees them), or anything else that keeps the module from starting."""
        text = _first_line(exc)
        if "table" in text and ("limit" in text or "too high" in text):
            return TableLimitExceeded(
                f"plugin {plugin!r} needs more tables than allowed (at most {MAX_TABLES} of "
                f"{self.table_elements} elements each): {text}"
            )
        return InvalidModule(f"plugin {plugin!r} failed to start: {text}")

    def _start_ticker(self) -> None:
        with self._lock:
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="convergio-plugin-epoch", daemon=True)
                self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self._tick_s):
            self.engine.increment_epoch()

    def _load_serialised(self, digest: str) -> wasmtime.Module | None:
        path = self._cache_path(digest)
        if path is None or not path.is_file():
            return None
        try:
            module = wasmtime.Module.deserialize(self.engine, path.read_bytes())
        except wasmtime.WasmtimeError:
            path.unlink(missing_ok=True)
            return None
        self.stats.disk_hits += 1
        return module

    def _store_serialised(self, digest: str, module: wasmtime.Module) -> None:
        path = self._cache_path(digest)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_bytes(bytes(module.serialize()))
        partial.replace(path)

    def _cache_path(self, digest: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{digest}-wasmtime-{_wasmtime_version()}.cwasm"


def _wasmtime_version() -> str:
    from importlib.metadata import version

    return version("wasmtime")


def _guest_range(ptr: Any, length: int, memory: Any, store: wasmtime.Store, what: str) -> int:
    if not isinstance(ptr, int) or not isinstance(memory, wasmtime.Memory):
        raise InvalidOutput(f"{what} returned no pointer")
    ptr &= 0xFFFFFFFF
    if ptr + length > memory.data_len(store):
        raise InvalidOutput(f"{what} returned an out-of-bounds range {ptr}+{length}")
    return int(ptr)


def _decode(raw: bytes, plugin: str) -> dict[str, Any]:
    try:
        answer = bounded_json.loads(raw.decode("utf-8"))
    except bounded_json.TooDeep:
        raise InvalidOutput(
            f"plugin {plugin!r} returned JSON nested deeper than {bounded_json.MAX_DEPTH} levels"
        ) from None
    except ValueError:  # not UTF-8 (UnicodeDecodeError), not JSON, NaN or Infinity
        preview = raw[:50].decode("utf-8", errors="replace")
        raise InvalidOutput(f"plugin {plugin!r} returned invalid JSON (starts {preview!r})") from None
    if not isinstance(answer, dict) or len(answer) != 1 or not ({"result", "error"} & answer.keys()):
        raise InvalidOutput(f'plugin {plugin!r} must return {{"result": ...}} or {{"error": "..."}}')
    return answer


def _classify(
    trap: wasmtime.Trap, memory: wasmtime.Memory | None, store: wasmtime.Store, limits: Limits, plugin: str
) -> PluginError:
    code = trap.trap_code
    if code == wasmtime.TrapCode.OUT_OF_FUEL:
        return OutOfFuel(f"plugin {plugin!r} ran out of fuel ({limits.fuel} units)")
    if code == wasmtime.TrapCode.INTERRUPT:
        return WallTimeExceeded(f"plugin {plugin!r} ran over its {limits.wall_time_ms} ms wall time")
    used = memory.size(store) if memory is not None else 0
    if used >= limits.memory_pages:
        return MemoryLimitExceeded(
            f"plugin {plugin!r} trapped with its memory at the limit ({used} of {limits.memory_pages} pages)"
        )
    what = code.name.lower() if code is not None else _first_line(trap)
    return PluginTrap(f"plugin {plugin!r} trapped: {what} (memory {used} of {limits.memory_pages} pages)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
