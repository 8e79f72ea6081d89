"""edu-quiz.grade on the real wasmtime host: the same answers always get the same score."""

from __future__ import annotations

import pytest

from convergio.plugins import PluginToolError
from tests.education.conftest import Call

KEY = [
    {"id": "q1", "answer": "Paris"},
    {"id": "q2", "answer": "0.5", "points": 2},
    {"id": "q3", "answer": "B"},
    {"id": 4, "answer": "photosynthesis", "accept": ["photo-synthesis"]},
    {"id": "q5", "answer": 1000},
    {"id": "q6", "answer": "the Nile"},
    {"id": "q7", "answer": "Zoë"},
    {"id": "q8", "answer": "Rome"},
    {"id": "q9", "answer": "x"},
]


def test_answers_are_graded_against_the_key_after_normalising(grade: Call) -> None:
    answers = {
        "q1": "  paris. ",
        "q2": "1/2",
        "q3": "(b)",
        "4": "Photo-synthesis",
        "q5": "1,000",
        "q6": "nile",
        "q7": "ZOË",
        "q8": "Roma",
        "not-in-key": "ignored",
    }
    result = grade(key=KEY, answers=answers)
    assert {k: result[k] for k in ("score", "total", "percent", "correct", "questions", "unanswered")} == {
        "score": 8,
        "total": 10,
        "percent": 80.0,
        "correct": 7,
        "questions": 9,
        "unanswered": 1,
    }
    by_id = {r["id"]: r for r in result["results"]}
    assert by_id["q2"] == {
        "id": "q2",
        "correct": True,
        "points": 2,
        "out_of": 2,
        "expected": "0.5",
        "given": "1/2",
    }
    assert by_id["q8"]["correct"] is False and by_id["q8"]["given"] == "Roma"
    assert by_id["q9"] == {
        "id": "q9",
        "correct": False,
        "points": 0,
        "out_of": 1,
        "expected": "x",
        "given": None,
    }
    assert [r["id"] for r in result["results"]] == ["q1", "q2", "q3", "4", "q5", "q6", "q7", "q8", "q9"]
    assert grade(key=KEY, answers=answers) == result  # deterministic


@pytest.mark.parametrize(
    ("expected", "given", "correct"),
    [
        ("3", "3.0", True),
        (".5", "0,5", True),
        ("50%", "50", True),
        ("-2", "- 2", False),
        ("2", "3", False),
        ("1/3", "0.333", False),
        ("A", "a)", True),
        ("a cat", "Cat!", True),
        ("cat", "cats", False),
    ],
)
def test_numbers_and_choices(grade: Call, expected: str, given: str, correct: bool) -> None:
    result = grade(key=[{"id": "q", "answer": expected}], answers={"q": given})
    assert result["results"][0]["correct"] is correct


def test_bad_arguments_are_refused_by_the_schema(grade: Call) -> None:
    with pytest.raises(PluginToolError, match="key"):
        grade(answers={})
    with pytest.raises(PluginToolError, match="points"):
        grade(key=[{"id": "q", "answer": "a", "points": -1}], answers={})
    assert grade(key=[], answers={})["percent"] == 0.0
