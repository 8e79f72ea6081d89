"""The control plane's plugin store: metadata and grants in Cosmos DB, packages in Blob Storage.

Instances are stateless and their disks are per-instance (wiped on scale-to-zero), so nothing an
install writes locally may be needed by another instance. One document per (tenant, plugin) in
the ``plugins`` container (partition ``/tenant_id``, ``kind: "plugin"``) holds the manifest, the
grants and the name of the package blob, ``plugins/<tenant>/<plugin>/<sha256>.zip`` (the zip of
:func:`~convergio.plugins._store.pack`). An instance that needs the module fetches the blob once,
checks its hash and extracts it into its cache folder (``home/plugin-packages/<sha256>/``);
the hash in the name means a cached copy is never stale.

Install writes the blob before the document (a document never names a missing blob) and deletes
the replaced blob after; a reader that loses that race reads the document again. Grants change
under optimistic concurrency (:func:`~convergio.controlplane.cas_update`), checked against the
manifest being replaced, so a grant cannot slip past a concurrent reinstall.
"""

from __future__ import annotations

import builtins
import hashlib
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from convergio.controlplane import BlobPlane, cas_update, read_doc, safe_id, unavailable
from convergio.errors import StoreUnavailable

from ._errors import PluginNotFound
from ._manifest import Manifest, PluginGrants
from ._package import MANIFEST_FILE, parse_manifest, read_package
from ._store import GrantCheck, InstalledPlugin, carry_grants, pack

__all__ = ["CosmosPluginStore"]

_KIND: Final = "plugin"
_STORE: Final = "plugins"
_ATTEMPTS: Final = 3


def _doc_id(name: str) -> str:
    return safe_id(_KIND, name)


class CosmosPluginStore:
    """Installed plugins shared by every instance.

    Args:
        container: The ``plugins`` container (a ``ContainerProxy``, partition ``/tenant_id``).
        blob: Where package zips are kept.
        cache_dir: This instance's folder of extracted packages (a cache: it may vanish).
    """

    def __init__(self, container: Any, blob: BlobPlane, cache_dir: Path) -> None:
        self.container = container
        self.blob = blob
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], tuple[str, InstalledPlugin]] = {}

    def __repr__(self) -> str:
        return f"CosmosPluginStore({self.blob!r}, cache_dir={str(self.cache_dir)!r})"

    def put(self, tenant_id: str, manifest: Manifest, wasm: bytes) -> None:
        """Upload the package, then point the plugin's document at it (carrying grants)."""
        package = pack(manifest, wasm)
        digest = hashlib.sha256(package).hexdigest()
        blob_name = f"plugins/{tenant_id}/{manifest.name}/{digest}.zip"
        self.blob.put(blob_name, package)
        self._extract(digest, manifest, wasm)
        replaced: list[str] = []

        def change(doc: dict[str, Any] | None) -> dict[str, Any]:
            earlier = None if doc is None else PluginGrants.model_validate(doc["grants"])
            replaced[:] = [] if doc is None else [str(doc["package"])]
            grants = carry_grants(earlier, tenant_id, manifest)
            return {
                "kind": _KIND,
                "name": manifest.name,
                "manifest": manifest.model_dump_json(),
                "grants": grants.model_dump(mode="json"),
                "package": blob_name,
                "sha256": digest,
                "installed_at": datetime.now(UTC).isoformat(),
            }

        with unavailable(_STORE):
            cas_update(self.container, _doc_id(manifest.name), tenant_id, change)
        if replaced and replaced[0] != blob_name:
            self.blob.delete(replaced[0])

    def get(self, tenant_id: str, name: str) -> InstalledPlugin:
        """The plugin's document, with its module from this instance's cache or the blob."""
        for _ in range(_ATTEMPTS):
            doc = self._read(tenant_id, name)
            plugin = self._plugin(tenant_id, doc)
            if plugin is not None:
                return plugin
        raise StoreUnavailable(f"the package of plugin {name!r} is missing from blob storage")

    def list(self, tenant_id: str) -> builtins.list[InstalledPlugin]:
        """The tenant's plugin documents (one query), by name."""
        with unavailable(_STORE):
            docs = builtins.list(
                self.container.query_items(
                    query="SELECT * FROM c WHERE c.tenant_id = @pk AND c.kind = @kind",
                    parameters=[{"name": "@pk", "value": tenant_id}, {"name": "@kind", "value": _KIND}],
                    partition_key=tenant_id,
                )
            )
        plugins = []
        for doc in sorted(docs, key=lambda d: str(d["name"])):
            plugin = self._plugin(tenant_id, doc)
            # Replaced or removed since the query: read it again (gone means not listed).
            if plugin is None:
                try:
                    plugin = self.get(tenant_id, str(doc["name"]))
                except PluginNotFound:
                    continue
            plugins.append(plugin)
        return plugins

    def remove(self, tenant_id: str, name: str) -> None:
        """Delete the document (only the version read), then its package blob."""
        from azure.core import MatchConditions
        from azure.cosmos.exceptions import CosmosHttpResponseError

        for _ in range(_ATTEMPTS * 8):
            doc = self._read(tenant_id, name)
            try:
                with unavailable(_STORE):
                    self.container.delete_item(
                        doc["id"],
                        partition_key=tenant_id,
                        etag=doc["_etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
            except CosmosHttpResponseError as exc:
                if exc.status_code not in (404, 412):
                    raise
                continue  # removed or replaced meanwhile: read again
            with self._lock:
                self._loaded.pop((tenant_id, name), None)
            self.blob.delete(str(doc["package"]))
            return
        raise StoreUnavailable(f"plugin {name!r} is too contended to remove; try again")

    def set_grants(self, grants: PluginGrants, check: GrantCheck) -> None:
        """Replace the grants under optimistic concurrency, checked against the manifest in place."""

        def change(doc: dict[str, Any] | None) -> dict[str, Any]:
            if doc is None or doc.get("kind") != _KIND:
                raise PluginNotFound(f"no plugin {grants.plugin!r} is installed")
            check(parse_manifest(str(doc["manifest"]).encode("utf-8")))
            return {**doc, "grants": grants.model_dump(mode="json")}

        with unavailable(_STORE):
            cas_update(self.container, _doc_id(grants.plugin), grants.tenant_id, change)

    def close(self) -> None:
        """Nothing is held open (the planes belong to the caller)."""

    def _read(self, tenant_id: str, name: str) -> dict[str, Any]:
        with unavailable(_STORE):
            doc = read_doc(self.container, _doc_id(name), tenant_id)
        if doc is None or doc.get("kind") != _KIND:
            raise PluginNotFound(f"no plugin {name!r} is installed")
        return doc

    def _plugin(self, tenant_id: str, doc: dict[str, Any]) -> InstalledPlugin | None:
        """The plugin a document describes; None when its package blob is gone (it was replaced)."""
        key = (tenant_id, str(doc["name"]))
        with self._lock:
            cached = self._loaded.get(key)
        if cached is not None and cached[0] == doc["_etag"]:
            return cached[1]
        manifest = parse_manifest(str(doc["manifest"]).encode("utf-8"))
        wasm = self._module(str(doc["sha256"]), str(doc["package"]), manifest)
        if wasm is None:
            return None
        grants = PluginGrants.model_validate(doc["grants"])
        plugin = InstalledPlugin(manifest=manifest, grants=grants, wasm=wasm)
        with self._lock:
            self._loaded[key] = (str(doc["_etag"]), plugin)
        return plugin

    def _module(self, digest: str, blob_name: str, manifest: Manifest) -> bytes | None:
        cached = self.cache_dir / digest / manifest.module
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        package = self.blob.get(blob_name)
        if package is None:
            return None
        if hashlib.sha256(package).hexdigest() != digest:
            raise StoreUnavailable(f"the package of plugin {manifest.name!r} does not match its hash")
        wasm = read_package(package).wasm
        self._extract(digest, manifest, wasm)
        return wasm

    def _extract(self, digest: str, manifest: Manifest, wasm: bytes) -> None:
        """Write a package folder into the cache (staged and renamed, so a reader sees all or nothing)."""
        folder = self.cache_dir / digest
        if folder.is_dir():
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{digest[:12]}-", dir=self.cache_dir))
        try:
            (staging / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
            (staging / manifest.module).write_bytes(wasm)
            try:
                staging.rename(folder)
            except OSError:
                if not folder.is_dir():  # not another thread's identical copy: a real failure
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
