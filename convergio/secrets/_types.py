"""The vocabulary every secret store shares: the wrapped value, its fingerprint, names and errors.

Kept apart from the stores so that code which only passes keys around (providers, the API) can
import it without pulling in ``cryptography`` or the Azure SDK.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, Protocol, runtime_checkable

__all__ = [
    "MASK",
    "Secret",
    "SecretInfo",
    "SecretNotFound",
    "SecretStore",
    "SecretStoreError",
    "check_name",
    "check_tenant",
    "check_value",
    "fingerprint",
]

MASK = "**********"
"""What a :class:`Secret` shows instead of its value, and what redaction writes over a key."""

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_MAX_TENANT = 128
_TAIL = 4  # characters of the key a fingerprint shows
_MIN_FOR_TAIL = 12  # shorter values show no tail: 4 of 8 characters would be half the key


class SecretStoreError(Exception):
    """A store cannot do what was asked: unreadable file, tampered entry, vault refusal.

    The message names the tenant, the connection and the cause, never the value.
    """


class SecretNotFound(LookupError):
    """The tenant has no secret under that name."""


class Secret:
    """A secret string that does not show itself.

    ``repr``, ``str`` and ``format`` give ``'**********'``; :meth:`reveal` is the only way to the
    value, so every place a key is unwrapped can be found with one search. Pickling raises
    ``TypeError`` so a key cannot slip into a queue, a cache or an orchestration payload by
    accident; equality compares values in constant time.

    Args:
        value: The secret text.

    Raises:
        TypeError: ``value`` is not a ``str``.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret text; call it only where the key is used (an HTTP header)."""
        return self._value

    def __repr__(self) -> str:
        return MASK

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return format(MASK, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled: pass the connection name and fetch the key at use")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


def fingerprint(value: Secret | str) -> str:
    """Describe a key without giving it away, e.g. ``'…wxyz · sha256:1a2b3c4d'``.

    The last four characters let a person recognise the key they pasted; the first 8 hex digits
    of its SHA-256 tell two keys with the same tail apart. Values shorter than 12 characters show
    only the hash prefix.

    Args:
        value: The key, wrapped or not.

    Returns:
        The fingerprint text.
    """
    text = value.reveal() if isinstance(value, Secret) else value
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    if len(text) < _MIN_FOR_TAIL:
        return f"sha256:{digest}"
    return f"…{text[-_TAIL:]} · sha256:{digest}"


def check_name(name: str) -> str:
    """Validate a connection name: ``^[a-z0-9][a-z0-9-]{0,62}$``.

    Args:
        name: The connection name.

    Returns:
        The name, unchanged.

    Raises:
        ValueError: The name is not a string of that shape; the message says what is wrong.
    """
    if not isinstance(name, str):
        raise ValueError(f"connection name must be a string, not {type(name).__name__}")
    if not name:
        raise ValueError("connection name must not be empty")
    if len(name) > 63:
        raise ValueError(f"connection name must be at most 63 characters (got {len(name)})")
    if _NAME.fullmatch(name) is None:
        raise ValueError(
            f"connection name {name!r} must use only a-z, 0-9 and '-', and start with a letter or digit"
        )
    return name


def check_tenant(tenant_id: str) -> str:
    """Validate a tenant id: 1..128 printable characters, no whitespace.

    Tenant ids are made by :func:`convergio.tenants.tenant_id_for` (``[a-z0-9-]``); the stores
    accept a little more so they stay usable on their own, but nothing that could break a file
    name, a tag or a log line.

    Args:
        tenant_id: The tenant's id.

    Returns:
        The id, unchanged.

    Raises:
        ValueError: The id is empty, too long, or has whitespace or control characters.
    """
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ValueError("tenant id must be a non-empty string")
    if len(tenant_id) > _MAX_TENANT:
        raise ValueError(f"tenant id must be at most {_MAX_TENANT} characters (got {len(tenant_id)})")
    if any(ch.isspace() or not ch.isprintable() for ch in tenant_id):
        raise ValueError(f"tenant id {tenant_id!r} must not contain whitespace or control characters")
    return tenant_id


def check_value(value: Secret) -> Secret:
    """Validate a value to store: a non-empty :class:`Secret`.

    Args:
        value: The value to store.

    Returns:
        The value, unchanged.

    Raises:
        TypeError: ``value`` is a plain string or anything else but a :class:`Secret`.
        ValueError: The secret is empty.
    """
    if not isinstance(value, Secret):
        raise TypeError(f"store a Secret, not {type(value).__name__} (wrap the key: Secret(key))")
    if not value.reveal():
        raise ValueError("secret value must not be empty")
    return value


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What may be shown about a stored secret: never the value.

    Attributes:
        name: The connection name.
        fingerprint: See :func:`fingerprint`.
        updated_at: When the value was last written (UTC).
    """

    name: str
    fingerprint: str
    updated_at: datetime


@runtime_checkable
class SecretStore(Protocol):
    """Tenants' provider keys, one per (tenant, connection name).

    Every method validates ``tenant_id`` (:func:`check_tenant`) and ``name`` (:func:`check_name`)
    and raises ``ValueError`` for a bad one. Errors never carry the value.
    """

    def put(self, tenant_id: str, name: str, value: Secret) -> SecretInfo:
        """Create or replace a secret.

        Args:
            tenant_id: The owning tenant.
            name: The connection name.
            value: The key.

        Returns:
            The stored secret's description.

        Raises:
            SecretStoreError: The store could not write it.
        """
        ...

    def get(self, tenant_id: str, name: str) -> Secret:
        """Read a secret.

        Args:
            tenant_id: The owning tenant.
            name: The connection name.

        Returns:
            The key, wrapped.

        Raises:
            SecretNotFound: The tenant has no secret of that name.
            SecretStoreError: The store could not read or authenticate it.
        """
        ...

    def delete(self, tenant_id: str, name: str) -> bool:
        """Delete a secret.

        Args:
            tenant_id: The owning tenant.
            name: The connection name.

        Returns:
            ``True`` if it existed.

        Raises:
            SecretStoreError: The store could not delete it.
        """
        ...

    def list(self, tenant_id: str) -> builtins.list[SecretInfo]:
        """Describe the tenant's secrets, sorted by name.

        Args:
            tenant_id: The owning tenant.

        Returns:
            One :class:`SecretInfo` per secret; no values.

        Raises:
            SecretStoreError: The store could not be read.
        """
        ...
