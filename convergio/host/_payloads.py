"""Payloads as the Durable extension reads and stores them, so an app sees here what Azure gives it.

What the extension does (``HttpApiHandler``, ``MessagePayloadDataConverter`` and ``DurableClient``
in azure-functions-durable-extension; the Python side in azure-functions-durable-python):

* **Start** (``POST orchestrators/{name}``): a non-empty body is read with Json.NET whatever its
  ``Content-Type``; bad JSON is 400 ``Invalid JSON content``. The value is stored serialised (the
  ``ExecutionStarted`` input), and the orchestrator receives it back as a JSON *value* in its
  context. The Python SDK's ``get_input()`` then ``json.loads`` that value, re-encoding an object
  first: so a hand-posted ``5``, ``[1]``, ``true`` or ``"text"`` makes ``get_input()`` raise on
  Azure, an object or ``null`` arrive as such, and a JSON string holding JSON arrives decoded.
  The SDK's own ``start_new(v)`` posts ``json.dumps(v)`` JSON-encoded again, a string: ``v``.
* **Raise event**: after the instance check (404, 410), the media type must be
  ``application/json`` (else 400 ``Only application/json request content is supported``); the
  body is read as one JSON token (``JToken.Load``: the first value; empty or bad is 400
  ``Invalid JSON content``) and the event carries that token serialised. The orchestrator gets
  the token: a posted ``"incr"`` arrives as ``incr``, a string holding JSON stays a string. The
  SDK's ``raise_event(v)`` posts ``json.dumps(v)`` JSON-encoded again, so the orchestrator gets
  the *string* ``json.dumps(v)`` (azure-functions-durable-python issue 295), here as there.
* **Status** ``input``, ``output``, ``customStatus``: the stored text parsed as JSON, else the raw
  text (``ParseToJToken``). An instance the SDK started therefore shows its input as the
  serialised string, not the decoded value.
* Json.NET reads at most 64 levels of nesting (its ``MaxDepth``): deeper is a bad request.

Stored values here are what DTFx stores: an instance's ``input`` is the serialised start value
(``ExecutionStarted.Input``). Values the SDK serialised itself (a sub-orchestration's or
``continue_as_new``'s input) are .NET strings to the extension, so they are stored as JSON string
literals: :func:`stored_sdk_value`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "InvalidJson",
    "MAX_DEPTH",
    "TrailingContent",
    "context_input",
    "instance_id_error",
    "is_json_media",
    "json_token",
    "read_json",
    "serialise",
    "stored_sdk_value",
    "stored_start_value",
]

MAX_DEPTH = 64
_MAX_INSTANCE_ID = 256  # DurableClient.MaxInstanceIdLength
_DECODER = json.JSONDecoder()


class InvalidJson(ValueError):
    """The body is not JSON Json.NET would read: the extension answers 400 ``Invalid JSON content``."""


class TrailingContent(ValueError):
    """A start body with text after its value: Json.NET's ``DeserializeObject`` refuses it (a 500)."""


def read_json(raw: bytes, *, allow_trailing: bool) -> Any:
    """The first JSON value of ``raw``; ``allow_trailing`` as ``JToken.Load`` (events) does."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidJson("The request body is not UTF-8 text.") from None
    start = len(text) - len(text.lstrip())
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        raise InvalidJson("Invalid JSON content") from None
    if _depth(value) > MAX_DEPTH:
        raise InvalidJson(f"The JSON is nested deeper than Json.NET's MaxDepth of {MAX_DEPTH}.")
    if not allow_trailing and text[end:].strip():
        raise TrailingContent("Additional text found in JSON string after finishing deserializing object.")
    return value


def _depth(value: Any) -> int:
    """How many containers deep ``value`` nests (iterative: a deep value must not overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def serialise(value: Any) -> str:
    """A value as Json.NET writes it (``Formatting.None``): compact, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stored_start_value(raw: bytes, value: Any) -> str:
    """``serialise(value)`` of an accepted start body: the body's own text when it is a JSON string
    in ASCII with no ``\\u`` or ``\\/`` escape (as the SDK posts it), whose other escapes are the
    ones ``serialise`` writes; a 500-agent start no longer encodes 260 KB again (ADR 0053)."""
    if isinstance(value, str) and raw.isascii():
        text = raw.decode("ascii").strip()
        if text[:1] == '"' and "\\u" not in text and "\\/" not in text:
            return text
    return serialise(value)


def stored_sdk_value(serialised: str | None) -> str | None:
    """How DTFx stores a value the SDK serialised itself (a .NET string to the extension)."""
    return None if serialised is None else serialise(serialised)


def json_token(stored: str | None) -> Any:
    """``ParseToJToken``: stored text as the status shows it (JSON, else the raw text)."""
    if stored is None:
        return None
    text = stored.strip()
    if not text:
        return ""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text  # the extension's fallback, common for terminate reasons


def context_input(stored: str | None) -> Any:
    """The ``input`` of the orchestrator context the extension builds: the stored input's value."""
    return json_token(stored)


def is_json_media(content_type: str | None) -> bool:
    """Is the request's media type ``application/json`` (parameters such as charset aside)?"""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def instance_id_error(instance_id: str) -> str | None:
    """Why ``StartNewAsync`` would refuse this instance ID (an ``ArgumentException``), or None."""
    if instance_id.startswith("@"):
        return "Orchestration instance ids must not start with @."
    if any(c in "/\\?#" or ord(c) < 32 or 127 <= ord(c) < 160 for c in instance_id):
        return "Orchestration instance ids must not contain /, \\, #, ?, or control characters."
    if len(instance_id) > _MAX_INSTANCE_ID:
        return f"Instance ID lengths must not exceed {_MAX_INSTANCE_ID} characters."
    return None
