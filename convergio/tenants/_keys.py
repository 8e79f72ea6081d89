"""Tenant ids (slugs) and API keys: how they are made and recognised."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

__all__ = [
    "KEY_ID_CHARS",
    "KEY_PREFIX",
    "hash_key",
    "is_well_formed_key",
    "key_id",
    "key_id_of",
    "new_key",
    "tenant_id_for",
]

KEY_PREFIX = "cvg_"
_KEY_BYTES = 32
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet, without padding.
_KEY_PATTERN = re.compile(re.escape(KEY_PREFIX) + r"[A-Za-z0-9_-]{43}")
_MAX_ID = 63  # a DNS label's limit, so an id can name a resource or a host name later
# A key's public id: the first 64 bits of its digest, enough to name it, useless to forge it.
KEY_ID_CHARS = 16


def tenant_id_for(name: str) -> str:
    """Derive a tenant's id from its display name.

    Accents are folded (``é`` -> ``e``), letters lowered, and every run of other characters
    becomes one ``-``; the result is trimmed of ``-`` at both ends and cut to 63 characters.

    Args:
        name: The tenant's display name.

    Returns:
        The id, 1..63 characters of ``[a-z0-9-]``, neither starting nor ending with ``-``.

    Raises:
        ValueError: The name has no letter or digit to build an id from.
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    slug = slug[:_MAX_ID].rstrip("-")
    if not slug:
        raise ValueError(f"tenant name {name!r} has no ASCII letter or digit to make an id from")
    return slug


def new_key() -> str:
    """Return a fresh API key: ``cvg_`` and 256 random bits, URL-safe base64."""
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_BYTES)


def is_well_formed_key(key: object) -> bool:
    """Tell whether ``key`` has the shape of a key :func:`new_key` makes."""
    return isinstance(key, str) and _KEY_PATTERN.fullmatch(key) is not None


def hash_key(key: str) -> str:
    """Return the digest under which a key is stored.

    A plain SHA-256 is enough here: slow KDFs (bcrypt, scrypt, argon2) exist to stop brute force
    on low-entropy passwords, and a key with 256 random bits cannot be guessed from its digest.
    Being fast and deterministic also lets a key be found by an indexed lookup of its digest.
    """
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def key_id(digest: str) -> str:
    """The id under which an admin lists and revokes a key: a prefix of its stored digest."""
    return digest[:KEY_ID_CHARS]


def key_id_of(key: str) -> str:
    """The id of a key (as :func:`key_id` of its digest), to answer it beside a key just issued."""
    return key_id(hash_key(key))
