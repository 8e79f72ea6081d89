"""Orchestration versioning, applied as Azure's Durable extension applies it (ADR 0020).

``host.json`` (``extensions.durableTask``) sets ``defaultVersion``, ``versionMatchStrategy``
(``None`` / ``Strict`` / ``CurrentOrOlder``, the default) and ``versionFailureStrategy``
(``Reject``, the default, or ``Fail``). The extension hands the three to DurableTask.Core's
``TaskHubWorker`` as its ``VersioningSettings``, and the orchestration dispatcher checks every
work item of an orchestration before running any of it:

* ``Strict``: the instance's version must equal ``defaultVersion`` (an ordinal string compare,
  so ``null`` and ``""`` differ); ``CurrentOrOlder``: it must not be greater
  (``compare_versions``); ``None``: no check.
* On a mismatch, ``Reject`` abandons the work item: nothing of it runs or is recorded, the
  instance keeps its status (``Pending`` if it never ran), and a worker with a compatible
  version may take it later. Every message waits, a terminate included. ``Fail`` completes
  the instance at once as ``Failed`` with the failure details ``VersionMismatch`` /
  ``Orchestration version did not comply with Worker Versioning``, its output
  ``VersionMismatch: Orchestration version did not comply with Worker Versioning``.

A new instance gets the version its starter asked for, else ``defaultVersion`` (``None`` when
there is none); a sub-orchestration gets the version its ``call_sub_orchestrator`` asked for,
else its parent's; ``continue_as_new`` keeps it. The orchestrator reads it as ``context.version``
(the SDK takes it from the history's ``ExecutionStarted`` event).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "MISMATCH",
    "MISMATCH_OUTPUT",
    "FailureStrategy",
    "MatchStrategy",
    "Verdict",
    "VersionGate",
    "Versioning",
    "VersioningError",
    "compare_versions",
]

log = logging.getLogger("convergio.host.versioning")


class MatchStrategy(Enum):
    NONE = "None"
    STRICT = "Strict"
    CURRENT_OR_OLDER = "CurrentOrOlder"


class FailureStrategy(Enum):
    REJECT = "Reject"
    FAIL = "Fail"


class Verdict(Enum):
    RUN = "run"
    REJECT = "reject"
    FAIL = "fail"


class VersioningError(ValueError):
    """A versioning setting in host.json the extension would refuse to bind."""


MISMATCH: dict[str, Any] = {
    "ErrorType": "VersionMismatch",
    "ErrorMessage": "Orchestration version did not comply with Worker Versioning",
    "StackTrace": None,
    "InnerFailure": None,
    "IsNonRetriable": True,
}
"""The ``FailureDetails`` DurableTask.Core gives an instance that ``Fail`` completes."""
MISMATCH_OUTPUT = f"{MISMATCH['ErrorType']}: {MISMATCH['ErrorMessage']}"
"""Its output: the runtime state's ``Output`` is ``FailureDetails.ToString()`` when there are any."""

# Enum values as .NET's configuration binder reads them: a name in any case, or the number.
_MATCH = {
    "none": MatchStrategy.NONE,
    "strict": MatchStrategy.STRICT,
    "currentorolder": MatchStrategy.CURRENT_OR_OLDER,
}
_MATCH_NUMBERS = {"0": MatchStrategy.NONE, "1": MatchStrategy.STRICT, "2": MatchStrategy.CURRENT_OR_OLDER}
_FAILURE = {"reject": FailureStrategy.REJECT, "fail": FailureStrategy.FAIL}
_FAILURE_NUMBERS = {"0": FailureStrategy.REJECT, "1": FailureStrategy.FAIL}


@dataclass(frozen=True, slots=True)
class Versioning:
    """The three settings; the defaults are the extension's (no version, ``CurrentOrOlder``, ``Reject``)."""

    default_version: str | None = None
    match: MatchStrategy = MatchStrategy.CURRENT_OR_OLDER
    failure: FailureStrategy = FailureStrategy.REJECT

    @classmethod
    def from_durable_task(cls, section: Mapping[str, Any]) -> Versioning:
        """Read ``extensions.durableTask``; keys in any case, as .NET configuration reads them.

        Numbers and booleans arrive as their JSON text (``"defaultVersion": 2.0`` is ``"2.0"``)
        when ``section`` was parsed with ``parse_float=str, parse_int=str``.
        """
        keys = {str(k).lower(): v for k, v in section.items()}
        return cls(
            default_version=_text(keys.get("defaultversion"), "defaultVersion"),
            match=_choice(keys.get("versionmatchstrategy"), "versionMatchStrategy", _MATCH, _MATCH_NUMBERS)
            or MatchStrategy.CURRENT_OR_OLDER,
            failure=_choice(
                keys.get("versionfailurestrategy"), "versionFailureStrategy", _FAILURE, _FAILURE_NUMBERS
            )
            or FailureStrategy.REJECT,
        )

    def for_new_instance(self, requested: str | None) -> str | None:
        """The version of a new instance: the one its starter asked for, else ``defaultVersion``."""
        return self.default_version if requested is None else requested

    def complies(self, version: str | None) -> bool:
        """Would DurableTask.Core's dispatcher run a work item of an instance of this version?"""
        if self.match is MatchStrategy.STRICT:
            return version == self.default_version
        if self.match is MatchStrategy.CURRENT_OR_OLDER:
            return compare_versions(version, self.default_version) <= 0
        return True

    def describe(self) -> str:
        version = "none" if self.default_version is None else repr(self.default_version)
        return f"defaultVersion {version}, {self.match.value}, {self.failure.value}"


_KNOWN_VERSIONS = 256
"""Versions whose verdict a gate remembers (an app has a handful; the bound is for safety)."""


class VersionGate:
    """``Versioning`` at work in one engine: a verdict per step, a warning once per rejected instance."""

    def __init__(self, versioning: Versioning) -> None:
        self._versioning = versioning
        self._warned: set[str] = set()
        # version -> complies: asked before every step, and the answer never changes (the
        # settings are frozen), while comparing .NET versions parses both texts each time
        self._complies: dict[str | None, bool] = {}

    @property
    def versioning(self) -> Versioning:
        """The settings, fixed for the gate's life (its verdicts are remembered)."""
        return self._versioning

    def verdict(self, instance_id: str, version: str | None) -> Verdict:
        complies = self._complies.get(version)
        if complies is None:
            if len(self._complies) >= _KNOWN_VERSIONS:
                self._complies.clear()
            complies = self._complies[version] = self.versioning.complies(version)
        if complies:
            return Verdict.RUN
        if self.versioning.failure is FailureStrategy.FAIL:
            return Verdict.FAIL
        if instance_id not in self._warned:
            self._warned.add(instance_id)
            log.warning(
                "Instance %s has version %r, which %s with defaultVersion %r does not accept: "
                "it waits, untouched, for a host whose host.json accepts it (versionFailureStrategy "
                "Reject, as on Azure)",
                instance_id,
                version,
                self.versioning.match.value,
                self.versioning.default_version,
            )
        return Verdict.REJECT


def compare_versions(source: str | None, other: str | None) -> int:
    """DurableTask.Core's ``VersioningSettings.CompareVersions``: negative, zero or positive.

    1. Both empty or whitespace (or ``None``): equal. 2. Only ``source`` empty: less.
    3. Only ``other`` empty: greater. 4. Both parse as a .NET ``System.Version``: that
    comparison (``1.0`` < ``1.0.0``: a missing part is -1). 5. Else a case-insensitive ordinal
    comparison of the text.
    """
    source_blank, other_blank = _blank(source), _blank(other)
    if source_blank and other_blank:
        return 0
    if source_blank:
        return -1
    if other_blank:
        return 1
    assert source is not None and other is not None
    left, right = _dotnet_version(source), _dotnet_version(other)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    a, b = _ordinal_upper(source), _ordinal_upper(other)
    return (a > b) - (a < b)


# .NET's char.IsWhiteSpace: the separators (Zs, Zl, Zp) and U+0009-U+000D, U+0085.
_CONTROL_SPACE = frozenset("\t\n\v\f\r\x85")
# A System.Version part: int.TryParse with NumberStyles.Integer (ASCII white space around, a sign).
_PART = re.compile(r"[\t\n\v\f\r ]*([+-]?)([0-9]+)[\t\n\v\f\r ]*")
_INT_MAX = 2**31 - 1


def _blank(text: str | None) -> bool:
    return text is None or all(
        ch in _CONTROL_SPACE or unicodedata.category(ch) in ("Zs", "Zl", "Zp") for ch in text
    )


def _dotnet_version(text: str) -> tuple[int, int, int, int] | None:
    """``System.Version.TryParse``: two to four dot-separated non-negative ints, else None."""
    parts = text.split(".")
    if not 2 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        found = _PART.fullmatch(part)
        if found is None:
            return None
        value = int(found.group(2)) * (-1 if found.group(1) == "-" else 1)
        if not 0 <= value <= _INT_MAX:
            return None
        values.append(value)
    values += [-1] * (4 - len(values))
    return values[0], values[1], values[2], values[3]


def _ordinal_upper(text: str) -> bytes:
    """``StringComparison.OrdinalIgnoreCase``: UTF-16 code units after a simple upper-casing."""
    upper = "".join(u if len(u := ch.upper()) == 1 else ch for ch in text)
    return upper.encode("utf-16-be", "surrogatepass")


def _text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):  # .NET's JSON configuration reads true/false as "True"/"False"
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    raise VersioningError(f"extensions.durableTask.{name} must be a string, not {type(value).__name__}")


def _choice(value: Any, name: str, names: Mapping[str, Any], numbers: Mapping[str, Any]) -> Any:
    if value is None:
        return None
    text = str(value).strip()
    found = names.get(text.lower()) or numbers.get(text)
    if found is None:
        allowed = " | ".join(item.value for item in dict.fromkeys(names.values()))
        raise VersioningError(f"extensions.durableTask.{name} is {value!r}: it must be one of {allowed}")
    return found
