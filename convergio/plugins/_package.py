"""Reading a plugin package (a directory or a zip archive) into a validated manifest and module bytes.

A package holds ``plugin.json`` and the ``.wasm`` file it names, at its top level (in a zip,
optionally under one top folder). When the ``.wasm`` file is absent but a ``.wat`` file of the same
stem is there, the text module is compiled with ``wasmtime.wat2wasm``: the repository ships
WebAssembly text only, and ``python -m convergio.plugins build DIR`` writes the binaries.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

import wasmtime
from pydantic import ValidationError

from ._errors import InvalidManifest, InvalidModule, PluginTooLarge
from ._manifest import Manifest, PluginInfo

__all__ = [
    "MANIFEST_FILE",
    "PluginPackage",
    "build_tree",
    "parse_info",
    "parse_manifest",
    "read_package",
    "wat_to_wasm",
]

MANIFEST_FILE = "plugin.json"
MAX_MANIFEST_BYTES = 64 * 1024
MAX_MODULE_BYTES = 8 * 1024 * 1024
MAX_ARCHIVE_BYTES = 16 * 1024 * 1024

_Reader = Callable[[str], "bytes | None"]
_M = TypeVar("_M", bound=PluginInfo)


@dataclass(frozen=True, slots=True)
class PluginPackage:
    """A package read into memory.

    Attributes:
        manifest: The validated manifest.
        wasm: The module's binary bytes.
    """

    manifest: Manifest
    wasm: bytes


def wat_to_wasm(text: str, *, source: str = "<wat>") -> bytes:
    """Compile WebAssembly text to a binary module.

    Args:
        text: The WAT source.
        source: Where it came from, for the error message.

    Returns:
        The binary module.

    Raises:
        InvalidModule: the text does not parse.
    """
    try:
        return bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError as exc:
        raise InvalidModule(f"{source}: invalid WebAssembly text: {_first_line(str(exc))}") from None


def build_tree(root: Path) -> list[Path]:
    """Compile every ``*.wat`` file under ``root`` to a ``.wasm`` file beside it.

    Args:
        root: A folder (searched recursively) or one ``.wat`` file.

    Returns:
        The ``.wasm`` files written, sorted.

    Raises:
        InvalidModule: a file does not parse.
    """
    sources = [root] if root.is_file() else sorted(root.rglob("*.wat"))
    written = []
    for source in sources:
        target = source.with_suffix(".wasm")
        target.write_bytes(wat_to_wasm(source.read_text(encoding="utf-8"), source=str(source)))
        written.append(target)
    return written


def read_package(source: Path | bytes) -> PluginPackage:
    """Read and validate a package.

    Args:
        source: A package directory, a ``.zip`` file, or the bytes of a zip archive.

    Returns:
        The manifest and module bytes.

    Raises:
        InvalidManifest: no ``plugin.json``, not JSON, or not a valid manifest.
        InvalidModule: the module file is missing or its text does not parse.
        PluginTooLarge: the archive, manifest or module is over its size limit.
    """
    if isinstance(source, bytes):
        return _read_zip(source, "<upload>")
    if source.is_dir():
        files = {path.name: path for path in source.iterdir() if path.is_file() and not path.is_symlink()}
        return _assemble(lambda name: _read_file(files.get(name), name), str(source))
    if source.is_file():
        if source.stat().st_size > MAX_ARCHIVE_BYTES:
            raise PluginTooLarge(f"{source.name}: archive over {MAX_ARCHIVE_BYTES} bytes")
        return _read_zip(source.read_bytes(), source.name)
    raise InvalidManifest(f"{source}: no such plugin package")


def _read_file(path: Path | None, name: str) -> bytes | None:
    if path is None:
        return None
    limit = MAX_MANIFEST_BYTES if name == MANIFEST_FILE else MAX_MODULE_BYTES
    if path.stat().st_size > limit:
        raise PluginTooLarge(f"{name}: over {limit} bytes")
    return path.read_bytes()


def _read_zip(data: bytes, label: str) -> PluginPackage:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise PluginTooLarge(f"{label}: archive over {MAX_ARCHIVE_BYTES} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidManifest(f"{label}: not a zip archive") from None
    with archive:
        entries: dict[str, zipfile.ZipInfo] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            parts = PurePosixPath(info.filename).parts
            if len(parts) > 2 or ".." in parts:
                continue
            entries.setdefault(parts[-1], info)

        def read(name: str) -> bytes | None:
            info = entries.get(name)
            if info is None:
                return None
            limit = MAX_MANIFEST_BYTES if name == MANIFEST_FILE else MAX_MODULE_BYTES
            if info.file_size > limit:
                raise PluginTooLarge(f"{name}: over {limit} bytes")
            with archive.open(info) as handle:
                content = handle.read(limit + 1)
            if len(content) > limit:
                raise PluginTooLarge(f"{name}: over {limit} bytes")
            return content

        return _assemble(read, label)


def _assemble(read: _Reader, label: str) -> PluginPackage:
    raw = read(MANIFEST_FILE)
    if raw is None:
        raise InvalidManifest(f"{label}: no {MANIFEST_FILE}")
    manifest = parse_manifest(raw, label=label)
    wasm = read(manifest.module)
    if wasm is None:
        text = read(manifest.module.removesuffix(".wasm") + ".wat")
        if text is None:
            raise InvalidModule(f"{label}: module {manifest.module!r} not found in the package")
        wasm = wat_to_wasm(text.decode("utf-8", errors="replace"), source=f"{label}/{manifest.module}")
    if len(wasm) > MAX_MODULE_BYTES:
        raise PluginTooLarge(f"{manifest.module}: over {MAX_MODULE_BYTES} bytes")
    return PluginPackage(manifest=manifest, wasm=wasm)


def parse_manifest(raw: bytes, *, label: str = MANIFEST_FILE) -> Manifest:
    """Parse and validate a WebAssembly plugin's manifest bytes (see ``parse_info``)."""
    return parse_info(raw, Manifest, label=label)


def parse_info(raw: bytes, model: type[_M], *, label: str = MANIFEST_FILE) -> _M:
    """Parse and validate manifest bytes.

    Args:
        raw: The content of ``plugin.json``.
        model: The manifest model (``Manifest``; a native plugin's differs).
        label: Where it came from, for messages.

    Returns:
        The manifest.

    Raises:
        InvalidManifest: not UTF-8 JSON, or not a valid manifest (the message names the field).
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidManifest(f"{label}: {MANIFEST_FILE} is not UTF-8 JSON ({exc})") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"path": ".".join(str(part) for part in error["loc"]) or "manifest", "message": error["msg"]}
            for error in exc.errors()
        ]
        first = details[0]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise InvalidManifest(
            f"{label}: {first['path']}: {first['message']}{more}", details=details
        ) from None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
