"""Which quota store an instance uses: the control plane's when there is one, else a local file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._quota import QuotaStore

if TYPE_CHECKING:
    from convergio.controlplane import CosmosPlane

__all__ = ["open_quota_store"]


def open_quota_store(home: Path, *, cosmos: CosmosPlane | None = None) -> QuotaStore:
    """The quota store: Cosmos DB's ``quotas`` container when ``cosmos`` is given (several
    instances must share one set of limits), else ``home/quotas.sqlite3`` (one host)."""
    if cosmos is not None:
        from ._cosmos import CosmosQuotaStore

        return CosmosQuotaStore(cosmos.container("quotas"))
    from ._store import SqliteQuotaStore

    return SqliteQuotaStore(home / "quotas.sqlite3")
