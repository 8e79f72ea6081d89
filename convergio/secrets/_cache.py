"""A short-lived in-memory cache in front of a secret store.

Agents fetch their connection's key at every provider call; going to Key Vault each time would
add latency and hit its throttling limits. Keys are kept for a short TTL per (tenant, name), so a
key rotated elsewhere (another instance, the portal) takes effect within the TTL, and a change
made through this store takes effect at once.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable

from convergio.secrets._types import Secret, SecretInfo, SecretStore

__all__ = ["CachedSecretStore"]

_MAX_ENTRIES = 4096


class CachedSecretStore:
    """Read-through cache with a TTL; ``put`` and ``delete`` invalidate.

    Misses (``SecretNotFound``) and errors are not cached. ``list`` is not cached.

    Args:
        inner: The store that holds the keys.
        ttl_seconds: How long a key read is reused; ``0`` disables caching.
        clock: A monotonic clock in seconds (injected in tests).

    Raises:
        ValueError: ``ttl_seconds`` is negative.
    """

    def __init__(
        self,
        inner: SecretStore,
        *,
        ttl_seconds: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must be >= 0")
        self._inner = inner
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[Secret, float]] = {}
        self._lock = threading.Lock()
        # Bumped by every invalidation: a read that started before a put must not cache the old key.
        self._generation = 0

    @property
    def inner(self) -> SecretStore:
        """The wrapped store."""
        return self._inner

    def __repr__(self) -> str:
        return f"CachedSecretStore({self._inner!r}, ttl_seconds={self._ttl})"

    def put(self, tenant_id: str, name: str, value: Secret) -> SecretInfo:
        """Write through and forget the cached key; see :class:`~convergio.secrets.SecretStore`."""
        try:
            return self._inner.put(tenant_id, name, value)
        finally:
            self.invalidate(tenant_id, name)

    def get(self, tenant_id: str, name: str) -> Secret:
        """Return the cached key if younger than the TTL, else read through."""
        key = (tenant_id, name)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and self._clock() < hit[1]:
                return hit[0]
            generation = self._generation
        value = self._inner.get(tenant_id, name)
        if self._ttl > 0:
            with self._lock:
                if generation != self._generation:
                    return value
                if len(self._entries) >= _MAX_ENTRIES:
                    self._evict()
                self._entries[key] = (value, self._clock() + self._ttl)
        return value

    def delete(self, tenant_id: str, name: str) -> bool:
        """Delete through and forget the cached key; see :class:`~convergio.secrets.SecretStore`."""
        try:
            return self._inner.delete(tenant_id, name)
        finally:
            self.invalidate(tenant_id, name)

    def list(self, tenant_id: str) -> builtins.list[SecretInfo]:
        """Read through (fingerprints only, nothing cached)."""
        return self._inner.list(tenant_id)

    def invalidate(self, tenant_id: str | None = None, name: str | None = None) -> None:
        """Forget cached keys: one (tenant, name), a whole tenant, or everything.

        Args:
            tenant_id: Only this tenant's keys; all tenants when ``None``.
            name: Only this connection (with ``tenant_id``).
        """
        with self._lock:
            self._generation += 1
            if tenant_id is None:
                self._entries.clear()
            elif name is not None:
                self._entries.pop((tenant_id, name), None)
            else:
                for key in [k for k in self._entries if k[0] == tenant_id]:
                    del self._entries[key]

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, (_, expires) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= _MAX_ENTRIES:  # all still fresh: drop the oldest inserted
            del self._entries[next(iter(self._entries))]
