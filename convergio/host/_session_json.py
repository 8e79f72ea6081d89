"""A kept-alive session's JSON: what the SDK's codec and its actions would make, built directly.

A session's context (``_session.SessionContext``) encodes each call's input with ``plain_dumps``
and decodes each result with ``plain_result`` where those give the SDK's own text and values,
and the executor (``_executor``) serialises the step's new actions with ``action_json``: the
SDK's ``df_dumps``/``df_loads`` and ``to_json`` cost a hook per object, a new encoder per call
and ``hasattr``/``getattr`` helpers per key (ADR 0041, 0047). Anything these do not surely
make the same (custom objects, strict typing, other action classes) is ``NOT_PLAIN`` or the
SDK's own path. tests/host/test_action_json.py and test_session_results.py compare them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from azure.durable_functions.constants import DATETIME_STRING_FORMAT
from azure.durable_functions.models.actions.Action import Action
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.actions.CallActivityAction import CallActivityAction
from azure.durable_functions.models.actions.CreateTimerAction import CreateTimerAction
from azure.durable_functions.models.actions.WhenAllAction import WhenAllAction
from azure.durable_functions.models.actions.WhenAnyAction import WhenAnyAction
from azure.functions import _durable_functions as _sdk_codec

from ._codec import hook_free, sdk_codec_loose
from ._json_text import json_text

__all__ = ["NOT_PLAIN", "action_json", "plain_dumps", "plain_result"]

NOT_PLAIN = object()


def plain_dumps(value: Any) -> Any:
    """A call's input as the SDK's ``df_dumps`` encodes it, or ``NOT_PLAIN`` when that is not
    surely ``json.dumps(value)``.

    In loose mode ``df_dumps`` is ``json.dumps`` with a ``default`` hook, which JSON calls only
    for a value it cannot encode: whenever plain encoding succeeds, the text is the same. It
    builds a new encoder on every call; ``json_text`` uses one, without cycle markers.
    """
    if not sdk_codec_loose():
        return NOT_PLAIN
    try:
        return json_text(value)
    except (TypeError, ValueError, RecursionError):  # custom objects, cycles: the SDK's path
        return NOT_PLAIN


def plain_result(text: Any) -> Any:
    """A call's ``Result`` as the SDK's ``df_loads`` decodes it, or ``NOT_PLAIN`` when that is
    not surely ``json.loads(text)``.

    In its default (loose) mode ``df_loads`` is ``json.loads`` with a hook called on every
    object, which rebuilds only those with a ``"__class__"`` key (spelled so, or with a ``\\u``
    escape of one of its letters: ``hook_free``); it also gives a one-time notice. So for a
    text with neither, once the notice was given and in loose mode, plain ``json.loads`` is the
    same value; a text it refuses goes to the SDK, which raises its own error.
    """
    if (
        not isinstance(text, str)
        or not hook_free(text)
        or not getattr(_sdk_codec, "_no_expected_type_notice_emitted", False)
        or not sdk_codec_loose()
    ):
        return NOT_PLAIN
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_PLAIN


def action_json(action: Action) -> dict[str, Any]:
    """``action.to_json()``: the same dict (keys, order, values), built directly for the actions
    a graph yields on every step (calls, the cancelled flush timer, a WhenAny/WhenAll of them).

    The SDK builds each key with ``hasattr``/``getattr`` helpers. Only these exact classes (they
    set every attribute in ``__init__``) take this path; any other action, a subclass included,
    takes the SDK's own.
    """
    kind = type(action)
    if kind is CallActivityAction:
        call: Any = action
        return {
            "actionType": ActionType.CALL_ACTIVITY,
            "functionName": call.function_name,
            "input": call.input_,
        }
    if kind is CreateTimerAction:
        timer: Any = action
        return {
            "actionType": ActionType.CREATE_TIMER,
            "fireAt": _fire_at(timer.fire_at),
            "isCanceled": timer.is_cancelled,
        }
    if kind is WhenAnyAction or kind is WhenAllAction:
        compound: Any = action
        return {
            "actionType": ActionType.WHEN_ANY if kind is WhenAnyAction else ActionType.WHEN_ALL,
            "compoundActions": [action_json(child) for child in compound.compound_tasks],
        }
    result: dict[str, Any] = action.to_json()
    return result


def _fire_at(moment: Any) -> str:
    """``moment.strftime(DATETIME_STRING_FORMAT)``, formatted directly for a plain ``datetime``
    of a four-digit year (``strftime`` asks an aware one's zone for its DST first)."""
    if type(moment) is not datetime or moment.year < 1000:
        text: str = moment.strftime(DATETIME_STRING_FORMAT)
        return text
    return (
        f"{moment.year}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )
