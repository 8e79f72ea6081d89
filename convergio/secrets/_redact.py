"""A logging filter that masks anything shaped like a key before a handler writes it.

This is a safety net, not a licence to log secrets: the rule stays "never log prompts,
completions, keys or headers" (STYLE 20). The filter catches the mistakes that slip through,
such as an SDK that logs a request's headers or an exception message quoting a key.

What it masks:

* provider keys ``sk-…`` / ``sk-ant-…`` and Convergio API keys ``cvg_…`` (the prefix is kept);
* ``Bearer …`` tokens;
* the value after ``Authorization``, ``api-key``, ``x-api-key``, ``api_key``, ``client_secret``,
  ``access_token``, ``password`` and ``Ocp-Apim-Subscription-Key`` (``name: value``,
  ``name=value`` and dict/JSON forms);
* long high-entropy tokens: 32 or more characters of ``[A-Za-z0-9_-+/=]`` that mix upper case,
  lower case and digits and carry at least 4 bits of entropy per character (random base64 or
  base62). Plain lower-case hex is left alone on purpose: run ids and digests are hex and logs
  need them. A bare hex key (Azure OpenAI keys are 32 hex digits) is masked only after one of
  the names above.

Most log lines (one per agent call, for instance) contain none of this, so each pattern runs
only when the text holds what it cannot match without: a header name or ``bearer`` (compared
case-folded the way the patterns' ``(?i)`` compares), ``sk-`` or ``cvg_``, an upper-case letter
(a random token mixes cases). The checks are necessary conditions, so what is masked is exactly
what running every pattern masks (a differential test holds it); each is one linear scan.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter

from convergio.secrets._types import MASK

__all__ = ["RedactingFilter", "install_redaction", "redact"]

_HEADER_NAMES = (
    r"(?:proxy-)?authorization|x-api-key|api[-_]?key|ocp-apim-subscription-key"
    r"|client[-_]secret|access[-_]token|password"
)
_HEADER = re.compile(
    rf"(?i)(?P<name>\b(?:{_HEADER_NAMES}))(?P<sep>[\"']?\s*[:=]\s*[\"']?)"
    r"(?P<scheme>(?:bearer|basic|token|sharedkey)\s+)?(?P<value>[^\s\"',;}\]]+)"
)
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer)\s+(?P<token>[A-Za-z0-9._~+/-]{8,}=*)")
_PREFIXED = re.compile(r"(?<![A-Za-z0-9])(?P<prefix>sk-ant-|sk-|cvg_)(?P<body>[A-Za-z0-9_-]{12,})")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_+/=-])[A-Za-z0-9_+/=-]{32,}(?![A-Za-z0-9_+/=-])")
_MIN_BITS_PER_CHAR = 4.0
_UPPER = re.compile(r"[A-Z]")
_DIGITS = frozenset("0123456789")
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
"""The non-ASCII letters ``(?i)`` matches to an ASCII letter (dotted and dotless i, long s, the
Kelvin sign: a test checks every code point), folded to it before ``lower()`` so a name spelt
with them is still found."""


def _fold(text: str) -> str:
    """``text`` lower-cased so that a ``(?i)`` match of an ASCII word is a substring of it."""
    return text.lower() if text.isascii() else text.translate(_FOLD).lower()


def _may_name_header(folded: str) -> bool:
    """Whether ``folded`` holds a piece one of ``_HEADER_NAMES`` contains (each contains one)."""
    return (
        "authorization" in folded
        or "api" in folded  # x-api-key, api-key, api_key, apikey, ocp-apim-subscription-key
        or "password" in folded
        or "client" in folded
        or "access" in folded
    )


def _may_mix_cases(text: str, folded: str) -> bool:
    """Whether ``text`` has an ASCII upper-case letter, which a masked random token must have."""
    return text != folded if text.isascii() else _UPPER.search(text) is not None


def _entropy(text: str) -> float:
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _looks_random(token: str) -> bool:
    """``token`` is ASCII (``_TOKEN``'s class), where ``str.lower``/``upper`` change exactly the
    letters of the other case: the same answer as testing each character, without the loop."""
    return (
        token != token.lower()
        and token != token.upper()
        and not _DIGITS.isdisjoint(token)
        and _entropy(token) >= _MIN_BITS_PER_CHAR
    )


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    return MASK if _looks_random(token) else token


def _mask_header(match: re.Match[str]) -> str:
    return f"{match.group('name')}{match.group('sep')}{match.group('scheme') or ''}{MASK}"


def _mask_bearer(match: re.Match[str]) -> str:
    return f"{match.group('scheme')} {MASK}"


def _mask_prefixed(match: re.Match[str]) -> str:
    return f"{match.group('prefix')}{MASK}"


def redact(text: str) -> str:
    """Mask everything in ``text`` that looks like a key (see the module docstring).

    Args:
        text: Any text: a log message, an exception, a header dump.

    Returns:
        The text with each key replaced by ``**********``; a known prefix (``sk-``, ``cvg_``,
        ``Bearer``, a header name) is kept so the reader still knows what was there.
    """
    if not text:
        return text
    # Each pattern runs on the text the previous one left, as if every one always ran; a
    # pattern that changed the text has the folded copy recomputed for the next check.
    folded = _fold(text)
    if _may_name_header(folded):
        text, count = _HEADER.subn(_mask_header, text)
        if count:
            folded = _fold(text)
    if "bearer" in folded:
        text, count = _BEARER.subn(_mask_bearer, text)
        if count:
            folded = _fold(text)
    if "sk-" in text or "cvg_" in text:
        text, count = _PREFIXED.subn(_mask_prefixed, text)
        if count:
            folded = _fold(text)
    return _TOKEN.sub(_mask_token, text) if _may_mix_cases(text, folded) else text


class RedactingFilter(logging.Filter):
    """Rewrite each record so its message, exception and stack text are redacted.

    The record is changed in place (the message is formatted with its args, redacted, and the
    args cleared; exception text is formatted and redacted, and ``exc_info`` dropped so no later
    formatter renders the raw exception). Redacting twice changes nothing, so a record that
    passes several guarded handlers is fine. Records are never dropped.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place.

        Args:
            record: The record about to be emitted.

        Returns:
            Always ``True``.
        """
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: still never show its args raw
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(str(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` and to ``logging.lastResort``.

    Filters on handlers (not on loggers) see records propagated from child loggers, which is
    where SDKs log. Calling it again adds nothing twice. Handlers added later are not covered:
    call it after logging is configured (the Functions worker adds its handler at start-up).

    Args:
        logger: The logger whose handlers to guard; the root logger when ``None``.

    Returns:
        The filter in use (the one already installed, if any).
    """
    target = logger if logger is not None else logging.getLogger()
    handlers = list(target.handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    existing = next(
        (f for h in handlers for f in h.filters if isinstance(f, RedactingFilter)),
        None,
    )
    chosen = existing or RedactingFilter()
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(chosen)
    return chosen
