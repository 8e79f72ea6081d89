"""An A2A JSON-RPC request checked before the SDK's dispatcher: clear errors, never parser dumps.

The dispatcher (``a2a-sdk`` 1.3) answers a bad envelope well enough, but puts the parser's own
text in the error (protobuf's ``Failed to parse id field: expected string or bytes-like object``;
for the 0.3 method names a whole pydantic dump, as -32600), and it parses with unknown enum
names silently turned into the zero value, so ``ListTasks {"status": "NOPE"}`` listed every task
instead of refusing. Here (A2A 1.0, section 9.5; the 0.3 names as the SDK's compatibility layer
reads them):

- the envelope by ``convergio.protocols._jsonrpc`` (-32700, -32600, -32602 for positional params);
- the params of a 1.0 method parsed as the dispatcher will parse them, with enum values checked
  against the schema: -32602 ``Invalid params: <field path>: <what it must be>``;
- the params of a 0.3 method validated by the SDK's 0.3 models: -32602 naming the field.

Unknown methods pass: the dispatcher answers -32601 itself.
"""

from __future__ import annotations

import re
from typing import Any, cast

from a2a.compat.v0_3.jsonrpc_adapter import JSONRPC03Adapter
from a2a.server.jsonrpc_models import JSONParseError
from a2a.server.request_handlers.response_helpers import build_error_response
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.utils.errors import InvalidParamsError, InvalidRequestError
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message
from pydantic import ValidationError

from .._jsonrpc import INVALID_PARAMS, PARSE_ERROR, JsonRpcRefusal, read_message

__all__ = ["refusal_response", "screen_request"]

_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field")
_AT_PATH = re.compile(r" at \w+\.([\w.]*\w)\.*$")
_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_MESSAGES = {
    "google.protobuf.Timestamp": "must be an ISO 8601 timestamp such as 2026-01-01T00:00:00Z",
    "google.protobuf.Struct": "must be an object",
    "google.protobuf.Value": "must be a JSON value",
}


def screen_request(raw: bytes) -> dict[str, Any]:
    """The request in ``raw``, refused unless the dispatcher can take it as it is.

    Raises:
        JsonRpcRefusal: The envelope or the params are wrong (the code and a message naming the field).
    """
    message = read_message(raw, batch_note=" (A2A 1.0 defines one request per call)")
    method, id_ = message["method"], message.get("id")
    params = message.get("params", {})
    if params is None:
        raise JsonRpcRefusal(INVALID_PARAMS, "Invalid params: params must be an object", id_)
    model = cast("type[Message] | None", JsonRpcDispatcher.METHOD_TO_MODEL.get(method))
    if model is not None:
        descriptor: Descriptor = model.DESCRIPTOR
        problem = _enum_problem(descriptor, params, "")
        if problem is None:
            try:
                ParseDict(params, model(), ignore_unknown_fields=True)
            except ParseError as exc:
                problem = _parse_problem(descriptor, str(exc))
        if problem is not None:
            raise JsonRpcRefusal(INVALID_PARAMS, f"Invalid params: {problem}", id_)
    legacy = JSONRPC03Adapter.METHOD_TO_MODEL.get(method)
    if legacy is not None:
        try:
            legacy.model_validate(message)  # type: ignore[attr-defined]  # pydantic models, untyped map
        except ValidationError as exc:
            raise JsonRpcRefusal(INVALID_PARAMS, f"Invalid params: {_pydantic_problem(exc)}", id_) from None
    return message


def refusal_response(refusal: JsonRpcRefusal) -> dict[str, Any]:
    """The refusal as the SDK words its own errors (an ``ErrorInfo`` detail with the A2A reason)."""
    error: Any
    if refusal.code == PARSE_ERROR:
        error = JSONParseError(message=refusal.message)
    elif refusal.code == INVALID_PARAMS:
        error = InvalidParamsError(refusal.message)
    else:
        error = InvalidRequestError(refusal.message)
    return build_error_response(refusal.id, error)


def _enum_problem(descriptor: Descriptor, value: Any, path: str) -> str | None:
    """An enum value the schema does not define, anywhere in ``value`` (the dispatcher's parser
    would quietly read it as the zero value, "unspecified")."""
    if not isinstance(value, dict):
        return None
    for field in descriptor.fields:
        name = field.json_name if field.json_name in value else field.name
        if name not in value:
            continue
        at, item = f"{path}{field.json_name}", value[name]
        items = item if _repeated(field) and isinstance(item, list) else [item]
        for one in items:
            if field.enum_type is not None and one is not None:
                known = field.enum_type.values_by_name
                numbers = field.enum_type.values_by_number
                if not (one in known if isinstance(one, str) else _whole(one) and one in numbers):
                    return f"{at}: must be one of {', '.join(known)}"
            elif field.message_type is not None and field.message_type.full_name not in _MESSAGES:
                problem = _enum_problem(field.message_type, one, f"{at}.")
                if problem is not None:
                    return problem
    return None


def _parse_problem(descriptor: Descriptor, text: str) -> str:
    """``<path>: <what it must be>`` from protobuf's parse error, without the parser's wording."""
    names = _FAILED_FIELD.findall(text)
    if not names and (at := _AT_PATH.search(text)) is not None:
        names = at.group(1).split(".")
    field: FieldDescriptor | None = None
    current: Descriptor | None = descriptor
    for name in names:
        fields = current.fields if current is not None else []
        field = next((f for f in fields if name in (f.json_name, f.name)), None)
        if field is None:
            break
        current = field.message_type
    path = ".".join(names) or "params"
    return f"{path}: {_expected(field)}"


def _expected(field: FieldDescriptor | None) -> str:
    if field is None:
        return "not a valid value"
    if _repeated(field):
        return "must be an array"
    if field.enum_type is not None:
        return f"must be one of {', '.join(field.enum_type.values_by_name)}"
    if field.message_type is not None:
        return _MESSAGES.get(field.message_type.full_name, "must be an object")
    if field.type == FieldDescriptor.TYPE_STRING:
        return "must be a string"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "must be true or false"
    if field.type in _INTEGERS:
        return "must be an integer"
    if field.type == FieldDescriptor.TYPE_BYTES:
        return "must be base64 text"
    return "must be a number"


def _pydantic_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not errors:
        return "the params do not match the method"
    first = errors[0]
    path = ".".join(str(p) for p in first.get("loc", ()) if p != "params") or "params"
    return f"{path}: {str(first.get('msg', 'invalid')).splitlines()[0][:200]}"


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
