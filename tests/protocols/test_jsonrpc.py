"""The JSON-RPC 2.0 envelope both protocol endpoints check before their SDK sees a message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convergio.protocols._jsonrpc import JsonRpcRefusal, read_message


def refusal(raw: bytes | str, **options: Any) -> JsonRpcRefusal:
    with pytest.raises(JsonRpcRefusal) as caught:
        read_message(raw, **options)
    return caught.value


@pytest.mark.parametrize("raw", [b"", b"{", b"{'a': 1}", b"NaN", b"\xff\xfe", "[" * 100 + "]" * 100])
def test_what_is_not_json_is_a_parse_error_with_no_id(raw: bytes | str) -> None:
    refused = refusal(raw)
    assert (refused.code, refused.id) == (-32700, None)
    assert refused.message.startswith("Parse error: ")


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], "batch"),
        ([], "batch"),
        (5, "one JSON-RPC request object"),
        ("ping", "one JSON-RPC request object"),
        (None, "one JSON-RPC request object"),
        ({}, "jsonrpc"),
        ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": 1}, "method is required"),
        ({"jsonrpc": "2.0", "id": 1, "method": ""}, "method"),
        ({"jsonrpc": "2.0", "id": 1, "method": ["ping"]}, "method"),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}, "id"),
        ({"jsonrpc": "2.0", "id": True, "method": "ping"}, "id"),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, "id"),
        ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": "x"}, "params"),
        ({"jsonrpc": "2.0", "id": 1, "result": {}}, "method is required"),  # a response, not accepted
    ],
)
def test_what_is_not_one_request_is_an_invalid_request(value: Any, names: str) -> None:
    refused = refusal(json.dumps(value))
    assert refused.code == -32600 and names in refused.message
    assert refused.message.startswith("Invalid Request: ")


def test_the_id_is_kept_when_it_could_be_read() -> None:
    assert refusal(json.dumps({"jsonrpc": "2.0", "id": "a-7"})).id == "a-7"
    assert refusal(json.dumps({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"})).id is None


def test_a_batch_names_the_revision_that_removed_it() -> None:
    refused = refusal(b"[]", batch_note=" (MCP 2025-06-18 removed JSON-RPC batching)")
    assert refused.message.endswith("(MCP 2025-06-18 removed JSON-RPC batching)")


def test_positional_params_are_invalid_params() -> None:
    refused = refusal(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "x", "params": [1]}))
    assert (refused.code, refused.id) == (-32602, 3)


@pytest.mark.parametrize(
    "value",
    [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": "x", "method": "tools/list", "params": {}},
        {"jsonrpc": "2.0", "id": None, "method": "tools/list", "params": None},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ],
)
def test_requests_and_notifications_pass_whole(value: dict[str, Any]) -> None:
    assert read_message(json.dumps(value)) == value


def test_a_response_passes_only_where_responses_are_allowed() -> None:
    response = {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert read_message(json.dumps(response), responses=True) == response
    both = {"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "x"}}
    assert refusal(json.dumps(both), responses=True).code == -32600


def test_the_error_body_is_json_rpc() -> None:
    body = refusal(b"[]").body()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert set(body["error"]) == {"code", "message"} and body["error"]["code"] == -32600
