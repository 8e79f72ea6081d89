"""The one-time setup code that claims a fresh installation (ADR 0022), and how it is compared.

Whoever can read the code has rights on the deployment: on Azure the template keeps it in the
Key Vault and passes it as the app setting ``CONVERGIO_SETUP_CODE``; on the embedded host with
no setting it is generated once into the home directory (``0600``) and printed by
``python -m convergio setup-code``. A hosted instance never generates one: its disk is its own
and temporary, so a code there would be one nobody can read, and a different one per instance.

Codes are compared on a normal form (no spaces or dashes, upper case), so a GUID pasted with or
without its dashes, or a generated code typed in lower case, still matches; the comparison is
constant-time on digests, so neither the code nor its length leaks through timing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

__all__ = [
    "MIN_SETUP_CODE_CHARS",
    "SETUP_CODE_FILE",
    "SetupCodeMissing",
    "local_setup_code",
    "new_setup_code",
    "setup_code",
    "setup_code_matches",
]

SETUP_CODE_FILE: Final = "setup-code"
MIN_SETUP_CODE_CHARS: Final = 16
"""A shorter code could be guessed through the anonymous claim route: it is refused (503)."""
# Crockford-like: no 0/O, 1/I/L, U, so a code read aloud or typed from paper is typed right.
_ALPHABET: Final = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
_GROUPS, _GROUP_CHARS = 5, 5  # 25 symbols of 30: about 122 bits
_KEY_VAULT_REFERENCE: Final = "@microsoft.keyvault("


class SetupCodeMissing(LookupError):
    """No usable setup code on this instance; the message says what to do (never the value)."""


def new_setup_code() -> str:
    """A fresh code: five dash-separated groups of five unambiguous letters and digits."""
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP_CHARS))
    return "-".join(symbols[i : i + _GROUP_CHARS] for i in range(0, len(symbols), _GROUP_CHARS))


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def setup_code_matches(given: str, expected: str) -> bool:
    """Whether ``given`` is ``expected`` up to spaces, dashes and case, in constant time."""
    if not _normal(expected):
        return False
    given_digest = hashlib.sha256(_normal(given).encode()).digest()
    expected_digest = hashlib.sha256(_normal(expected).encode()).digest()
    return hmac.compare_digest(given_digest, expected_digest)


def local_setup_code(home: Path) -> str:
    """The embedded installation's code: read from ``home/setup-code``, made there on first use.

    Made once whatever the race (the CLI and the host, or two requests, at the same time): the
    code is written to a private temporary file, then linked to its name, which fails if another
    process got there first; that one's code is then read. Nobody ever reads a half-written file.
    """
    path = home / SETUP_CODE_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        temporary = home / f".{SETUP_CODE_FILE}.{secrets.token_hex(8)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.write(new_setup_code() + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def setup_code(configured: str, *, home: Path, hosted: bool) -> str:
    """The code that claims this installation.

    Args:
        configured: ``CONVERGIO_SETUP_CODE`` (empty when not set).
        home: The state directory, where the embedded host keeps a generated code.
        hosted: Whether this is a hosted instance (then only a configured code counts).

    Raises:
        SetupCodeMissing: hosted with no code, a Key Vault reference the platform left
            unresolved, or a code shorter than :data:`MIN_SETUP_CODE_CHARS`.
    """
    code = configured.strip()
    if code.lower().startswith(_KEY_VAULT_REFERENCE):
        # App Service leaves the reference text in place when it cannot read the secret.
        raise SetupCodeMissing(
            "the app setting CONVERGIO_SETUP_CODE is a Key Vault reference the platform could not"
            " resolve: give the app's identity read access to the secret (see infra/README.md)"
        )
    if not code:
        if hosted:
            raise SetupCodeMissing(
                "no setup code is configured on this installation: set the app setting"
                " CONVERGIO_SETUP_CODE (the deployment template does; see infra/README.md)"
            )
        return local_setup_code(home)
    if len(_normal(code)) < MIN_SETUP_CODE_CHARS:
        raise SetupCodeMissing(
            f"the app setting CONVERGIO_SETUP_CODE is too short to be safe: use"
            f" {MIN_SETUP_CODE_CHARS} characters at least (the template uses a GUID)"
        )
    return code
