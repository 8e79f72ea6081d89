"""The custom status limit the host enforces as Azure's Durable extension does (ADR 0014)."""

from __future__ import annotations

import json

import pytest

from convergio.graph import STATUS_LIMIT_UTF16
from convergio.host._engine import custom_status_error


def test_the_limit_is_16_whole_kb_of_utf16_json() -> None:
    # The extension truncates the UTF-16 size to whole KB and refuses more than 16.
    assert custom_status_error("x" * (17 * 1024 // 2 - 1)) is None
    refused = custom_status_error("x" * (17 * 1024 // 2))
    assert refused is not None and "must not exceed 16 KB" in refused and "17 KB" in refused
    # Characters outside the BMP take two UTF-16 units.
    assert custom_status_error("\U0001f600" * (17 * 1024 // 4)) is not None


def test_the_graph_budget_is_inside_the_hosts_limit() -> None:
    assert custom_status_error(json.dumps("x" * (STATUS_LIMIT_UTF16 // 2 - 2))) is None


def _by_encoding(encoded: str) -> bool:
    """The refusal counted the slow way: the text encoded to UTF-16."""
    return len(encoded.encode("utf-16-le")) // 1024 > 16


@pytest.mark.parametrize("char", ["x", "é", "\u4e2d", "\U0001f600", "\\u00e9"])
def test_the_quick_counts_refuse_exactly_what_the_utf16_size_refuses(char: str) -> None:
    limit = 17 * 1024  # bytes: 17 whole KB is the first size refused
    for size in sorted({n for edge in (limit // 4, limit // 2) for n in range(edge - 3, edge + 3)}):
        for text in (char * size, "x" * size + char, char + "x" * (size - 1)):
            assert (custom_status_error(text) is not None) == _by_encoding(text), (char, size)
