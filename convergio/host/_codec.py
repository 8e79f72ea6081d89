"""An activity's input and output as the SDK's ``ActivityTriggerConverter`` reads and writes them,
without its per-dict hook where the hook provably does nothing (ADR 0035).

In the SDK's default (loose) mode the converter decodes with
``json.loads(s, object_hook=_deserialize_custom_object)`` and encodes with
``json.dumps(value, default=_serialize_custom_object)``. The hook rebuilds only dicts with a
``"__class__"`` key; in JSON text such a key is spelled with that literal or with a ``\\u``
escape of one of its letters (``hook_free``), so a text with neither decodes the same with
plain ``json.loads``, which skips a
Python call per object; pydantic-core's ``from_json`` (Rust) gives the same values as
``json.loads`` wherever it accepts a text, in 60 % of the time (ADR 0043), and what it refuses (a
BOM, deep nesting, anything invalid) goes to the converter like any other failure.
``default`` is only called for values JSON cannot encode, so plain ``json.dumps`` gives the
same text whenever it succeeds. Anything else (strict typing, a text the fast path cannot
vouch for, a failure, the SDK's one-time notice not yet given) goes through the converter
itself, so the results and errors are exactly the SDK's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from azure.functions import _durable_functions as _sdk
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter
from pydantic_core import from_json

__all__ = ["decode_input", "encode_output", "hook_free", "sdk_codec_loose"]

_strict_mode = getattr(_sdk, "_is_strict_mode", None)
# The SDK reads its strict-typing variable with ``os.environ.get`` on every call, which raises
# and catches a KeyError when it is unset (the usual case): a look at the mapping behind
# ``os.environ`` answers "unset" without it, and anything else asks the SDK.
_ENVIRON: Mapping[Any, Any] | None = getattr(os.environ, "_data", None)
_STRICT_VAR = getattr(_sdk, "_STRICT_ENV_VAR", None)
_STRICT_KEY = os.environ.encodekey(_STRICT_VAR) if isinstance(_STRICT_VAR, str) else None


# A ``\\u`` escape of a letter of "__class__" (``_``, ``c``, ``l``, ``a``, ``s``; JSON's hex digits
# are case-insensitive): the only other spellings of that key. An escaped backslash before
# "u005f" matches too, which only sends a text to the SDK that did not need it.
_CLASS_ESCAPE = re.compile(r"\\u00(?:5[fF]|6[13cC]|73)")


def hook_free(text: str) -> bool:
    """Can no object of this JSON text have a ``"__class__"`` key (the only thing the SDK's
    loose-mode hook changes)? Other escapes (any non-ASCII text, as ``json.dumps`` writes it)
    cannot spell that key, so they keep the plain decode."""
    return "__class__" not in text and _CLASS_ESCAPE.search(text) is None


def sdk_codec_loose() -> bool:
    """The SDK is in loose mode (its codec is the plain ``json`` one plus the custom-object hooks):
    the activity codec here and a kept-alive session (``_session``) then skip the hooks."""
    if _strict_mode is None:
        return False
    unset = _ENVIRON is not None and _STRICT_KEY is not None and _STRICT_KEY not in _ENVIRON
    return unset or not _strict_mode()


def decode_input(text: str | None) -> Any:
    """The value an activity function receives for its trigger input (JSON text; ``None``: null)."""
    text = "null" if text is None else text
    if (
        hook_free(text)
        and getattr(_sdk, "_no_expected_type_notice_emitted", False)  # the SDK's notice was given
        and sdk_codec_loose()
    ):
        try:
            return from_json(text, cache_strings=False)  # no cache: tenants' text is not kept
        except Exception:  # noqa: S110 - the converter below gives the SDK's answer (a string, or its error)
            pass
    return ActivityTriggerConverter.decode(meta.Datum(type="json", value=text), trigger_metadata=None)


def encode_output(value: Any) -> str:
    """An activity function's return value as the JSON text the SDK's converter makes of it."""
    if sdk_codec_loose():
        try:
            return json.dumps(value)
        except Exception:  # noqa: S110 - custom objects, or the SDK's error: the converter below
            pass
    return str(ActivityTriggerConverter.encode(value, expected_type=None).value)
