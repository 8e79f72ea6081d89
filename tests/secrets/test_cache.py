"""The TTL cache in front of a real local store, with an injected clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from convergio.secrets import CachedSecretStore, LocalSecretStore, Secret, SecretNotFound

OLD, NEW = "sk-old-Zq8vT3xLmN4pR7sW2yB6", "sk-new-Hh7Jj2Kk9Ll4Mm1Nn8Pp"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(LocalSecretStore):
    """A real local store that counts reads, to see what the cache saves."""

    reads = 0

    def get(self, tenant_id: str, name: str) -> Secret:
        self.reads += 1
        return super().get(tenant_id, name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_reads_are_cached_until_the_ttl(tmp_path: Path, clock: Clock) -> None:
    inner = CountingStore(tmp_path)
    cache = CachedSecretStore(inner, ttl_seconds=60, clock=clock)
    cache.put("t1", "openai", Secret(OLD))

    assert cache.get("t1", "openai").reveal() == OLD
    clock.now += 59
    assert cache.get("t1", "openai").reveal() == OLD
    assert inner.reads == 1

    # Rotation done elsewhere (another instance writes the inner store directly).
    LocalSecretStore(tmp_path).put("t1", "openai", Secret(NEW))
    assert cache.get("t1", "openai").reveal() == OLD  # still within the TTL
    clock.now += 1
    assert cache.get("t1", "openai").reveal() == NEW  # the TTL has passed
    assert inner.reads == 2


def test_put_and_delete_take_effect_at_once(tmp_path: Path, clock: Clock) -> None:
    cache = CachedSecretStore(LocalSecretStore(tmp_path), ttl_seconds=60, clock=clock)
    cache.put("t1", "openai", Secret(OLD))
    assert cache.get("t1", "openai").reveal() == OLD

    cache.put("t1", "openai", Secret(NEW))
    assert cache.get("t1", "openai").reveal() == NEW

    assert cache.delete("t1", "openai") is True
    with pytest.raises(SecretNotFound):
        cache.get("t1", "openai")


def test_tenants_are_cached_apart_and_misses_are_not_cached(tmp_path: Path, clock: Clock) -> None:
    cache = CachedSecretStore(LocalSecretStore(tmp_path), ttl_seconds=60, clock=clock)
    cache.put("t1", "openai", Secret(OLD))
    assert cache.get("t1", "openai").reveal() == OLD
    with pytest.raises(SecretNotFound):
        cache.get("t2", "openai")
    LocalSecretStore(tmp_path).put("t2", "openai", Secret(NEW))
    assert cache.get("t2", "openai").reveal() == NEW
    assert [i.name for i in cache.list("t2")] == ["openai"]


def test_invalidate_and_zero_ttl(tmp_path: Path, clock: Clock) -> None:
    inner = CountingStore(tmp_path)
    inner.put("t1", "openai", Secret(OLD))
    cache = CachedSecretStore(inner, ttl_seconds=60, clock=clock)
    cache.get("t1", "openai")
    cache.invalidate("t1")
    cache.get("t1", "openai")
    cache.invalidate()
    cache.get("t1", "openai")
    assert inner.reads == 3

    uncached = CachedSecretStore(inner, ttl_seconds=0, clock=clock)
    uncached.get("t1", "openai")
    uncached.get("t1", "openai")
    assert inner.reads == 5
    with pytest.raises(ValueError, match="ttl_seconds must be >= 0"):
        CachedSecretStore(inner, ttl_seconds=-1)


def test_a_read_racing_a_put_does_not_cache_the_old_key(tmp_path: Path, clock: Clock) -> None:
    cache: CachedSecretStore

    class SlowStore(LocalSecretStore):
        racing = True

        def get(self, tenant_id: str, name: str) -> Secret:
            value = super().get(tenant_id, name)
            if self.racing:  # the put lands after this read, before the cache stores it
                self.racing = False
                cache.put(tenant_id, name, Secret(NEW))
            return value

    inner = SlowStore(tmp_path)
    inner.put("t1", "openai", Secret(OLD))
    cache = CachedSecretStore(inner, ttl_seconds=60, clock=clock)
    assert cache.get("t1", "openai").reveal() == OLD
    assert cache.get("t1", "openai").reveal() == NEW
