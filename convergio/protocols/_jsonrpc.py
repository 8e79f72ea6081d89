"""One JSON-RPC 2.0 message from an HTTP body, checked before an SDK sees it.

Both protocol endpoints speak JSON-RPC 2.0 one message per POST, and the SDKs behind them
answered malformed envelopes inconsistently: the ``mcp`` SDK's handshake-era transport answered
a batch, a bare number or a missing ``method`` with -32602 and a pydantic dump as the message,
and took a request whose ``id`` is an object for a notification (202, no answer); the
``a2a-sdk`` put parser text in the error data. Here the envelope is checked once, by the
JSON-RPC 2.0 rules (https://www.jsonrpc.org/specification, section 4-5):

- not JSON, or nested past ``convergio._json.MAX_DEPTH``      -32700 Parse error
- an array (a batch: MCP removed batching in 2025-06-18; A2A 1.0 defines one request per call),
  a non-object, ``jsonrpc`` other than ``"2.0"``, an ``id`` that is not a string, an integer or
  null, a ``method`` that is not a non-empty string, ``params`` that is neither an object,
  an array nor null
                                                                 -32600 Invalid Request
- ``params`` given by position (an array): both protocols name their parameters
                                                                 -32602 Invalid params

Each message is short and names the member at fault; nothing the caller did not send is echoed.
"""

from __future__ import annotations

from typing import Any, Final

from convergio import _json as bounded_json

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "JsonRpcRefusal",
    "read_message",
]

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603

_BATCH = "batch requests are not supported: send one JSON-RPC message per HTTP request"


class JsonRpcRefusal(ValueError):
    """A message refused before dispatch: its JSON-RPC error code, a short message, the request id.

    Attributes:
        code: The JSON-RPC error code (-32700, -32600 or -32602).
        message: What is wrong, naming the member (``method: ...``, ``params.pageSize: ...``).
        id: The request's id when it could be read, else None (as JSON-RPC 2.0 requires).
    """

    def __init__(self, code: int, message: str, id_: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id_

    def body(self) -> dict[str, Any]:
        """The JSON-RPC error response."""
        return {"jsonrpc": "2.0", "id": self.id, "error": {"code": self.code, "message": self.message}}


def read_message(raw: bytes | str, *, responses: bool = False, batch_note: str = "") -> dict[str, Any]:
    """The one JSON-RPC message in ``raw``, its envelope checked.

    Args:
        raw: The HTTP body.
        responses: Whether a response object (``result`` or ``error``, no ``method``) is accepted
            too (MCP clients may answer a server's request; A2A has only requests).
        batch_note: Appended to the batch refusal (which protocol revision removed batching).

    Raises:
        JsonRpcRefusal: The body is not one well-formed JSON-RPC 2.0 message.
    """
    try:
        value = bounded_json.loads(raw)
    except bounded_json.TooDeep as exc:
        raise JsonRpcRefusal(PARSE_ERROR, f"Parse error: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise JsonRpcRefusal(PARSE_ERROR, "Parse error: the body is not valid JSON") from None
    if isinstance(value, list):
        raise JsonRpcRefusal(INVALID_REQUEST, f"Invalid Request: {_BATCH}{batch_note}")
    if not isinstance(value, dict):
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: the body must be one JSON-RPC request object")
    id_ = value.get("id")
    if "id" in value and (isinstance(id_, bool) or not isinstance(id_, str | int | None)):
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: id must be a string, an integer or null")
    if value.get("jsonrpc") != "2.0":
        raise JsonRpcRefusal(INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"', id_)
    if "method" not in value:
        if responses and "id" in value and ("result" in value) != ("error" in value):
            return value
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: method is required", id_)
    method = value["method"]
    if not isinstance(method, str) or not method:
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: method must be a non-empty string", id_)
    params = value.get("params")
    if isinstance(params, list):
        raise JsonRpcRefusal(INVALID_PARAMS, "Invalid params: params must be an object (named members)", id_)
    if params is not None and not isinstance(params, dict):  # null: as if omitted (MCP clients send it)
        raise JsonRpcRefusal(INVALID_REQUEST, "Invalid Request: params must be an object", id_)
    return value
