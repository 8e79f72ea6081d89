"""The text tools: ``word_count`` and ``keywords``, measured rather than guessed by a model.

Both are deterministic and language-agnostic except for the stop-word list, which is
English. Results are short plain text, cheap in tokens for the model reading them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ._types import Tool

__all__ = ["KEYWORDS", "WORD_COUNT", "keywords", "word_count"]

_MAX_TEXT = 200_000
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?\u2026]+")

_STOPWORD_LIST = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves
"""
_STOPWORDS = frozenset(_STOPWORD_LIST.split())


def word_count(text: str) -> tuple[int, int, int]:
    """Count words, sentences and characters.

    A word is a run of letters or digits, joined across inner apostrophes and hyphens
    (``don't``, ``well-known``). A sentence is a stretch ending in ``.``, ``!``, ``?`` or
    ``…`` (or the end of the text) that holds a word, so abbreviations like ``Dr.`` count
    as sentence ends. Characters are Unicode code points, whitespace included.

    Returns:
        (words, sentences, characters).
    """
    sentences = sum(1 for part in _SENTENCE_END.split(text) if _WORD.search(part))
    return len(_WORD.findall(text)), sentences, len(text)


def keywords(text: str, n: int = 5) -> list[tuple[str, int]]:
    """The ``n`` most frequent words that are not English stop words nor plain numbers.

    Words are lower-cased; ties are broken alphabetically.

    Returns:
        (word, count) pairs, most frequent first.
    """
    words = (word.lower() for word in _WORD.findall(text))
    counts = Counter(w for w in words if w not in _STOPWORDS and not w.isdigit() and len(w) > 1)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def _word_count(arguments: dict[str, Any]) -> str:
    words, sentences, characters = word_count(arguments["text"])
    return f"words: {words}, sentences: {sentences}, characters: {characters}"


def _keywords(arguments: dict[str, Any]) -> str:
    found = keywords(arguments["text"], arguments.get("n", 5))
    return ", ".join(f"{word} ({count})" for word, count in found) or "no keywords"


_TEXT_SCHEMA = {"type": "string", "maxLength": _MAX_TEXT, "description": "the text to analyse"}

WORD_COUNT = Tool(
    name="word_count",
    description="Count the words, sentences and characters of a text.",
    parameters={
        "type": "object",
        "properties": {"text": _TEXT_SCHEMA},
        "required": ["text"],
        "additionalProperties": False,
    },
    fn=_word_count,
)

KEYWORDS = Tool(
    name="keywords",
    description=(
        "List the most frequent meaningful words of a text (English stop words left out), "
        "each with its count, most frequent first."
    ),
    parameters={
        "type": "object",
        "properties": {
            "text": _TEXT_SCHEMA,
            "n": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5, "description": "how many"},
        },
        "required": ["text"],
        "additionalProperties": False,
    },
    fn=_keywords,
)
