"""Provider lookup by the name an agent spec uses, so graphs name providers as data.

Providers are built lazily by factories: a real provider's SDK is imported only when an
agent uses it, which keeps cold starts short (see ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable

from ._offline import OfflineProvider
from ._types import Provider

__all__ = ["PROVIDER_NAMES", "UnknownProvider", "get_provider"]

_FACTORIES: dict[str, Callable[[], Provider]] = {
    "offline": OfflineProvider,
}

PROVIDER_NAMES: frozenset[str] = frozenset(_FACTORIES)
"""The names ``get_provider`` knows (the graph validator's catalog of providers)."""


class UnknownProvider(LookupError):
    """No provider has that name; the message lists the known ones."""


def get_provider(name: str) -> Provider:
    """Return the provider an agent names.

    Args:
        name: A name from ``PROVIDER_NAMES``.

    Returns:
        A ready provider.

    Raises:
        UnknownProvider: no provider has that name.
    """
    try:
        factory = _FACTORIES[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDER_NAMES))
        raise UnknownProvider(f"unknown provider {name!r} (known: {known})") from None
    return factory()
