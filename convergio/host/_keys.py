"""The host's access keys and auth levels, as the Functions host keeps and checks them.

Azure's host keeps a master key (admin level), host function keys (``default``) and system keys
named ``<extension>_extension`` for extension webhooks (the Durable extension's
``durabletask_extension``, Event Grid's ``eventgrid_extension``). A request presents one in the
``x-functions-key`` header or else the ``code`` query parameter; the master key passes every
check, a system key only its extension's webhook, a function key only function-level triggers.
This host keeps the same keys in one JSON file in its home (mode 0600), created on first start
and reused afterwards, so URLs handed out before a restart keep working.
"""

from __future__ import annotations

import contextlib
import enum
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DURABLE_KEY",
    "EVENT_GRID_KEY",
    "KEYS_FILE",
    "Level",
    "HostKeys",
    "load_host_keys",
    "presented_key",
]

KEYS_FILE = "host_keys.json"
DURABLE_KEY = "durabletask_extension"
EVENT_GRID_KEY = "eventgrid_extension"
_SYSTEM = (DURABLE_KEY, EVENT_GRID_KEY)
_FUNCTION = ("default",)
HEADER = "x-functions-key"
QUERY = "code"


class Level(enum.Enum):
    """What a key grants (``AuthorizationLevel`` in the host; ``User`` is not used here)."""

    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    SYSTEM = "system"
    ADMIN = "admin"


def _new_key() -> str:
    return secrets.token_urlsafe(40)


@dataclass(frozen=True, slots=True)
class HostKeys:
    """One host's keys: ``master``, function keys and system keys by name."""

    master: str
    function_keys: Mapping[str, str]
    system_keys: Mapping[str, str]

    def identify(self, key: str | None) -> tuple[Level, str]:
        """The level and name a presented key carries (anonymous when it matches none)."""
        if not key:
            return Level.ANONYMOUS, ""
        if hmac.compare_digest(key.encode(), self.master.encode()):
            return Level.ADMIN, "master"
        for level, keys in ((Level.SYSTEM, self.system_keys), (Level.FUNCTION, self.function_keys)):
            for name, value in keys.items():
                if hmac.compare_digest(key.encode(), value.encode()):
                    return level, name
        return Level.ANONYMOUS, ""

    def allows(self, key: str | None, required: Level, system_key: str = "") -> bool:
        """Whether ``key`` meets ``required``; a system-level check names the one key it takes.

        As in the host: admin (the master key) passes everything; otherwise the level must be the
        required one exactly, so a system key opens no function and a function key no webhook.
        """
        if required is Level.ANONYMOUS:
            return True
        level, name = self.identify(key)
        if level is Level.ADMIN:
            return True
        return level is required and (not system_key or name == system_key)

    def listing(self) -> list[tuple[str, str, str]]:
        """(scope, name, value) rows, as ``python -m convergio keys`` prints them."""
        rows = [("master", "master", self.master)]
        rows += [("function", name, value) for name, value in sorted(self.function_keys.items())]
        rows += [("system", name, value) for name, value in sorted(self.system_keys.items())]
        return rows

    def to_json(self) -> dict[str, object]:
        return {
            "masterKey": self.master,
            "functionKeys": dict(self.function_keys),
            "systemKeys": dict(self.system_keys),
        }


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a request presents: the header wins over the query parameter, as in the host."""
    return headers.get(HEADER) or query.get(QUERY) or None


def _read(path: Path) -> HostKeys:
    data = json.loads(path.read_text(encoding="utf-8"))
    return HostKeys(
        master=str(data["masterKey"]),
        function_keys={str(k): str(v) for k, v in data.get("functionKeys", {}).items()},
        system_keys={str(k): str(v) for k, v in data.get("systemKeys", {}).items()},
    )


def _write(path: Path, keys: HostKeys, *, replace: bool) -> bool:
    """Put the file in place whole, readable by its owner only (a reader never sees half of it).

    Without ``replace`` it is created only if absent; returns whether this call put it there.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(keys.to_json(), out, indent=2)
            out.write("\n")
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def load_host_keys(home: Path) -> HostKeys:
    """The keys in ``home``, created on first use (and completed if one is missing)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / KEYS_FILE
    if not path.exists():
        fresh = HostKeys(
            master=_new_key(),
            function_keys={name: _new_key() for name in _FUNCTION},
            system_keys={name: _new_key() for name in _SYSTEM},
        )
        if _write(path, fresh, replace=False):
            return fresh
        # another process created it first: use theirs
    keys = _read(path)
    missing = [n for n in _FUNCTION if n not in keys.function_keys] + [
        n for n in _SYSTEM if n not in keys.system_keys
    ]
    if missing:  # a file from an older host: add the keys it lacks, keep the rest
        keys = HostKeys(
            master=keys.master,
            function_keys={**{n: _new_key() for n in _FUNCTION}, **keys.function_keys},
            system_keys={**{n: _new_key() for n in _SYSTEM}, **keys.system_keys},
        )
        _write(path, keys, replace=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return keys
