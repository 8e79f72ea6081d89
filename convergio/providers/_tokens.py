"""Offline token counting, so budgets are checked before a model is called.

Real providers count with their own BPE tokenisers (tiktoken for OpenAI models, Anthropic's
own). tiktoken cannot be used here: it downloads its vocabularies on first use, and the
embedded host must start offline. So this module counts with a fixed rule instead:

* a token is a run of letters, a run of digits, or one punctuation mark or symbol
  (whitespace separates tokens and is not counted);
* ``"Hello, world! 42"`` is 5 tokens: ``Hello`` ``,`` ``world`` ``!`` ``42``.

It is an approximation: BPE splits long or rare words into several tokens and merges some
punctuation with the next word, so English prose usually costs 1.2-1.4 times more on real
models, and scripts without spaces (Chinese, Japanese) far more. It is deterministic, costs
no network and is the exact count the offline simulator reports, which is what budget
enforcement needs. Providers report their own counts, which always win after a call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from itertools import islice

from ._types import Message, ToolCall

__all__ = ["MESSAGE_OVERHEAD", "count_message_tokens", "count_tokens", "tool_call_tokens", "truncate_tokens"]

_TOKEN = re.compile(r"\d+|[^\W\d_]+|[^\w\s]|_")
_ASCII_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+|[^A-Za-z0-9\s]")
r"""``_TOKEN`` for ASCII text, where it finds the same tokens (``\w`` is ``[A-Za-z0-9_]`` there and
``_`` is a punctuation mark of its own) about a third faster: no Unicode class lookups."""

MESSAGE_OVERHEAD = 4
"""Tokens added per message for its role and delimiters, close to what chat formats spend
(OpenAI documents 3-4 per message)."""


def _tokens(text: str) -> re.Pattern[str]:
    return _ASCII_TOKEN if text.isascii() else _TOKEN


def count_tokens(text: str) -> int:
    """Count the tokens of a text (runs of letters, runs of digits, single punctuation marks).

    Args:
        text: Any text.

    Returns:
        The number of tokens; 0 for empty or blank text.
    """
    return len(_tokens(text).findall(text))  # a list of short strings costs less than a generator's steps


def tool_call_tokens(call: ToolCall) -> int:
    """The tokens a tool call costs: its name plus its arguments as canonical JSON."""
    arguments = json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)
    return count_tokens(call.name) + count_tokens(arguments)


def count_message_tokens(messages: Iterable[Message]) -> int:
    """Count the prompt tokens of a conversation.

    Each message costs ``MESSAGE_OVERHEAD`` plus the tokens of its content plus, for an
    assistant turn, ``tool_call_tokens`` of each call. Tool-call ids and the schemas of the
    offered tools are not counted.

    Args:
        messages: The conversation.

    Returns:
        The estimated prompt size in tokens.
    """
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD + count_tokens(message.content)
        if message.tool_calls:
            total += sum(tool_call_tokens(call) for call in message.tool_calls)
    return total


def truncate_tokens(text: str, limit: int) -> str:
    """Cut a text right after its ``limit``-th token (the whole text when it is shorter).

    ``count_tokens`` of the result is ``min(limit, count_tokens(text))``.
    """
    if limit <= 0:
        return ""
    match = next(islice(_tokens(text).finditer(text), limit - 1, None), None)
    return text if match is None else text[: match.end()]
