"""The built-in tools and the registry that validates their arguments."""

from __future__ import annotations

import time
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import convergio.tools as tools
from convergio.providers import ToolSpec
from convergio.tools import TOOL_NAMES, ToolError, UnknownTool, get_tool, run_tool


def test_public_surface_is_pinned() -> None:
    assert sorted(tools.__all__) == [
        "BUILTINS",
        "BUILTIN_TOOLBOX",
        "Complete",
        "TOOL_NAMES",
        "Tool",
        "ToolContext",
        "ToolError",
        "ToolSource",
        "Toolbox",
        "UnknownTool",
        "call_tool",
        "get_tool",
        "model_names",
        "run_tool",
    ]


def test_the_built_ins_are_registered_with_valid_schemas() -> None:
    assert sorted(TOOL_NAMES) == ["calculator", "keywords", "word_count"]
    for name in TOOL_NAMES:
        tool = get_tool(name)
        Draft202012Validator.check_schema(tool.parameters)
        assert tool.spec() == ToolSpec(name, tool.description, tool.parameters)
        assert tool.description


def test_an_unknown_tool_is_a_lookup_error_for_get_and_a_tool_error_for_run() -> None:
    with pytest.raises(
        UnknownTool, match=r"unknown tool 'search' \(known: calculator, keywords, word_count\)"
    ):
        get_tool("search")
    with pytest.raises(ToolError, match="unknown tool 'search'"):
        run_tool("search", {})


# -- calculator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("(12 + 30) * 2 / 7", "12"),
        ("2 ** 10", "1024"),
        ("7 // 2", "3"),
        ("-7 % 3", "2"),
        ("-(3 + 4) * 2", "-14"),
        ("+5 - -5", "10"),
        ("0.1 + 0.2", "0.3"),
        ("1 / 3", "0.333333333333"),
        ("2 ** -1", "0.5"),
        ("1e3 * 2", "2000"),
        ("9 ** 999", str(9**999)),
    ],
)
def test_calculator_computes_arithmetic(expression: str, result: str) -> None:
    assert run_tool("calculator", {"expression": expression}) == result


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("x + 1", "names are not allowed"),
        ("(1).real", "attributes are not allowed"),
        ("__import__('os').system('true')", "not allowed"),
        ("abs(-1)", "function calls are not allowed"),
        ("'a' * 3", "only numbers are allowed, not str"),
        ("True + 1", "only numbers are allowed, not bool"),
        ("[1, 2]", "List is not allowed"),
        ("1 < 2", "Compare is not allowed"),
        ("1 +", "not a valid arithmetic expression"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("(-8) ** 0.5", "not a real number"),
        ("2 ** 1001", "exponent is larger than 1000"),
        ("2 ** 1000 ** 1000", "result is too large"),
        ("(10 ** 999) * (10 ** 999)", "result is too large"),
        ("10.0 ** 400", "result is too large"),
        ("1e308 * 10", "result is too large"),
        ("-" * 990 + "1", "nested too deeply"),
    ],
)
def test_calculator_refuses_anything_but_bounded_arithmetic(expression: str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match=reason):
        run_tool("calculator", {"expression": expression})
    assert time.monotonic() - started < 1.0


# -- argument validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("calculator", {}, "calculator: invalid arguments: 'expression' is a required property"),
        ("calculator", {"expression": 12}, "calculator: invalid expression: 12 is not of type 'string'"),
        ("calculator", {"expression": ""}, "calculator: invalid expression: .* should be non-empty"),
        ("keywords", {"text": "a", "n": 0}, "keywords: invalid n: 0 is less than the minimum of 1"),
        ("word_count", {"text": "a", "lang": "en"}, "Additional properties are not allowed"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(
    name: str, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        run_tool(name, arguments)


def test_error_messages_stay_short_whatever_the_model_sent() -> None:
    with pytest.raises(ToolError) as info:
        run_tool("calculator", {"expression": "9" * 5000})
    assert len(str(info.value)) <= 200
    assert "9" * 300 not in str(info.value)


# -- text tools ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("Hello there. Don't go! Well-known facts?", "words: 6, sentences: 3, characters: 40"),
        ("one two", "words: 2, sentences: 1, characters: 7"),
        ("Wait... what?!", "words: 2, sentences: 2, characters: 14"),
        ("", "words: 0, sentences: 0, characters: 0"),
    ],
)
def test_word_count(text: str, result: str) -> None:
    assert run_tool("word_count", {"text": text}) == result


def test_keywords_leave_out_stop_words_and_numbers_and_break_ties_alphabetically() -> None:
    text = "Graphs run agents. The agents run graphs of agents; 2024 agents, zebra, apple."
    assert run_tool("keywords", {"text": text}) == "agents (4), graphs (2), run (2), apple (1), zebra (1)"
    assert run_tool("keywords", {"text": text, "n": 2}) == "agents (4), graphs (2)"
    assert run_tool("keywords", {"text": "The and of it is 42."}) == "no keywords"
