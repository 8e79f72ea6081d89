"""The embedded plugin store: folders under the home, ``<tenant>/<plugin>/`` with three files.

``plugin.json``, ``module.wasm`` and ``grants.json``. An install is staged in a sibling folder
and swapped in, so a failure leaves the earlier version whole; a grant lands with an atomic
rename. Reads are cached in memory and checked against the files' stamps, so a change made by
another process on the same home (the CLI, the host) is seen at the next read.
"""

from __future__ import annotations

import builtins
import shutil
import tempfile
import threading
from pathlib import Path

from ._errors import PluginNotFound
from ._manifest import Manifest, PluginGrants
from ._package import MANIFEST_FILE, parse_manifest
from ._store import GrantCheck, InstalledPlugin, carry_grants

__all__ = ["FilePluginStore"]

_MODULE_FILE = "module.wasm"
_GRANTS_FILE = "grants.json"

_Stamp = tuple[int, ...]


class FilePluginStore:
    """Installed plugins as folders.

    Args:
        root: The folder holding them (``home/plugins``).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], tuple[_Stamp, InstalledPlugin]] = {}

    def __repr__(self) -> str:
        return f"FilePluginStore({str(self.root)!r})"

    def put(self, tenant_id: str, manifest: Manifest, wasm: bytes) -> None:
        """Stage the plugin's files and swap them in place of the earlier version."""
        with self._lock:
            folder = self.root / tenant_id / manifest.name
            earlier = (
                PluginGrants.model_validate_json((folder / _GRANTS_FILE).read_bytes())
                if (folder / _GRANTS_FILE).is_file()
                else None
            )
            grants = carry_grants(earlier, tenant_id, manifest)
            staging = Path(
                tempfile.mkdtemp(prefix=f".staging-{manifest.name}-", dir=_folder(self.root / tenant_id))
            )
            try:
                (staging / _MODULE_FILE).write_bytes(wasm)
                (staging / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
                (staging / _GRANTS_FILE).write_text(grants.model_dump_json(indent=2), encoding="utf-8")
                _swap(staging, folder)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            self._loaded.pop((tenant_id, manifest.name), None)

    def get(self, tenant_id: str, name: str) -> InstalledPlugin:
        """Read a plugin's files (or the cached copy, while their stamps are unchanged)."""
        with self._lock:
            folder = self.root / tenant_id / name
            if not (folder / MANIFEST_FILE).is_file():
                raise PluginNotFound(f"no plugin {name!r} is installed")
            stamp = _stamp(folder)
            cached = self._loaded.get((tenant_id, name))
            if cached is not None and cached[0] == stamp:
                return cached[1]
            plugin = InstalledPlugin(
                manifest=parse_manifest((folder / MANIFEST_FILE).read_bytes()),
                grants=PluginGrants.model_validate_json((folder / _GRANTS_FILE).read_bytes()),
                wasm=(folder / _MODULE_FILE).read_bytes(),
            )
            self._loaded[(tenant_id, name)] = (stamp, plugin)
            return plugin

    def list(self, tenant_id: str) -> builtins.list[InstalledPlugin]:
        """Every installed folder of the tenant, by name."""
        folder = self.root / tenant_id
        if not folder.is_dir():
            return []
        names = sorted(
            p.name for p in folder.iterdir() if not p.name.startswith(".") and (p / MANIFEST_FILE).is_file()
        )
        return [self.get(tenant_id, name) for name in names]

    def remove(self, tenant_id: str, name: str) -> None:
        """Delete the plugin's folder."""
        with self._lock:
            folder = self.root / tenant_id / name
            if not (folder / MANIFEST_FILE).is_file():
                raise PluginNotFound(f"no plugin {name!r} is installed")
            shutil.rmtree(folder)
            self._loaded.pop((tenant_id, name), None)

    def set_grants(self, grants: PluginGrants, check: GrantCheck) -> None:
        """Check against the manifest on disk, then replace ``grants.json`` atomically."""
        with self._lock:
            folder = self.root / grants.tenant_id / grants.plugin
            try:
                check(parse_manifest((folder / MANIFEST_FILE).read_bytes()))
            except FileNotFoundError:
                raise PluginNotFound(f"no plugin {grants.plugin!r} is installed") from None
            path = folder / _GRANTS_FILE
            partial = path.with_name(f".{_GRANTS_FILE}.tmp")
            partial.write_text(grants.model_dump_json(indent=2), encoding="utf-8")
            partial.replace(path)
            self._loaded.pop((grants.tenant_id, grants.plugin), None)

    def close(self) -> None:
        """Nothing is held open."""


def _stamp(folder: Path) -> _Stamp:
    """Which version of the plugin's files is on disk, so a change by another process is seen."""
    stamp: list[int] = []
    for name in (MANIFEST_FILE, _GRANTS_FILE, _MODULE_FILE):
        try:
            stat = (folder / name).stat()
        except FileNotFoundError:
            raise PluginNotFound(f"no plugin {folder.name!r} is installed") from None
        stamp += (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return tuple(stamp)


def _swap(staging: Path, folder: Path) -> None:
    """Put ``staging`` where ``folder`` is; on failure the earlier version stays in place."""
    if not folder.exists():
        staging.rename(folder)
        return
    retired = staging.with_name(staging.name.replace(".staging-", ".retired-", 1))
    folder.rename(retired)
    try:
        staging.rename(folder)
    except OSError:
        retired.rename(folder)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
