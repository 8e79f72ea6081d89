"""Where installed plugins are kept: one protocol, two adapters (files in the home | Cosmos DB + Blob).

The registry validates, grants and calls; a :class:`PluginStore` only keeps what was validated:
each (tenant, plugin) has its manifest, its module bytes and the tenant's grants. The rules both
adapters share live here too, so they cannot drift: which grants survive a reinstall, and the
package a plugin is kept as when its bytes leave the process (a zip of ``plugin.json`` and the
module, byte-for-byte the same for the same plugin, so its hash names it).
"""

from __future__ import annotations

import builtins
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ._manifest import Manifest, PluginGrants
from ._package import MANIFEST_FILE

__all__ = ["GrantCheck", "InstalledPlugin", "PluginStore", "carry_grants", "pack"]

GrantCheck = Callable[[Manifest], None]
"""Raises when grants are not within a manifest's request (run against the manifest being replaced)."""

_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: a fixed stamp keeps the archive deterministic


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """A plugin installed for a tenant.

    Attributes:
        manifest: Its manifest.
        grants: What the tenant granted it.
        wasm: Its module bytes.
    """

    manifest: Manifest
    grants: PluginGrants
    wasm: bytes


class PluginStore(Protocol):
    """Installed plugins per tenant. Tenant ids and plugin names arrive already checked."""

    def put(self, tenant_id: str, manifest: Manifest, wasm: bytes) -> None:
        """Install or replace a validated plugin; earlier grants survive as :func:`carry_grants` says."""
        ...

    def get(self, tenant_id: str, name: str) -> InstalledPlugin:
        """One plugin; raises ``PluginNotFound`` when the tenant has none of that name."""
        ...

    def list(self, tenant_id: str) -> builtins.list[InstalledPlugin]:
        """The tenant's plugins, sorted by name."""
        ...

    def remove(self, tenant_id: str, name: str) -> None:
        """Uninstall; raises ``PluginNotFound`` when the tenant has none of that name."""
        ...

    def set_grants(self, grants: PluginGrants, check: GrantCheck) -> None:
        """Replace a plugin's grants after ``check`` passes against the manifest in place, atomically.

        Raises ``PluginNotFound`` when the plugin is not installed, and whatever ``check`` raises.
        """
        ...

    def close(self) -> None:
        """Release what the store holds open."""
        ...


def carry_grants(earlier: PluginGrants | None, tenant_id: str, manifest: Manifest) -> PluginGrants:
    """The grants a (re)installed plugin starts with: the earlier ones if still within its request.

    A new version that requests less drops every grant rather than guessing which to keep.
    """
    if earlier is not None and not earlier.capabilities.within(manifest.capabilities):
        return earlier
    return PluginGrants(tenant_id=tenant_id, plugin=manifest.name)


def pack(manifest: Manifest, wasm: bytes) -> bytes:
    """A plugin as a package zip (``plugin.json`` and its module): the same bytes for the same plugin."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in (
            (MANIFEST_FILE, manifest.model_dump_json(indent=2).encode("utf-8")),
            (manifest.module, wasm),
        ):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()
