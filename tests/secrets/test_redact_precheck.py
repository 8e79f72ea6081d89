"""The redaction's pre-checks skip a pattern only when it cannot match: what is masked is exactly
what running every pattern on every text masks (the implementation before the pre-checks, kept
here as the reference), on random and hostile text, and its cost stays linear."""

from __future__ import annotations

import math
import random
import re
import string
import time
from collections import Counter

import pytest

from convergio.secrets import _redact
from convergio.secrets._redact import redact
from convergio.secrets._types import MASK


def _reference(text: str) -> str:
    """Every pattern on every text, as the filter ran before its pre-checks."""

    def looks_random(token: str) -> bool:
        n = len(token)
        entropy = -sum(c / n * math.log2(c / n) for c in Counter(token).values())
        return (
            any(c.isupper() for c in token)
            and any(c.islower() for c in token)
            and any(c.isdigit() for c in token)
            and entropy >= 4.0
        )

    if not text:
        return text
    text = _redact._HEADER.sub(
        lambda m: f"{m.group('name')}{m.group('sep')}{m.group('scheme') or ''}{MASK}", text
    )
    text = _redact._BEARER.sub(lambda m: f"{m.group('scheme')} {MASK}", text)
    text = _redact._PREFIXED.sub(lambda m: f"{m.group('prefix')}{MASK}", text)
    return _redact._TOKEN.sub(lambda m: MASK if looks_random(m.group(0)) else m.group(0), text)


_NAMES = (
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "api_key",
    "apikey",
    "ocp-apim-subscription-key",
    "client-secret",
    "client_secret",
    "access-token",
    "access_token",
    "password",
)
_LOOKALIKES = {"i": "\u0130\u0131", "s": "\u017f", "k": "\u212a"}  # what (?i) also takes for them
_TOKEN_CHARS = string.ascii_letters + string.digits + "_+/=-"
_FRAGMENTS = (
    ":", "=", " : ", " = ", '"', "'", "': '", '": "', ", ", ";", "}", "]", "{", "(", " ", "  ",
    "\t", "\n", "\u00a0", "\u2003", "Bearer ", "bearer", "BEARER\t", "basic ", "Token ", "SharedKey ",
    "sk-", "sk-ant-", "cvg_", "Sk-", "SK-", "xsk-", "_sk-", "sk_", "cvg-", MASK, "é", "…", "ß", "Σ",
    "\ufb00", "\u0307", "\u0130", "\u0131", "\u017f", "\u212a", "run ", "agent ", "completed", "ms",
    "https://api.openai.com/v1", "headers=", "key", "Key", "API", "Api",
)  # fmt: skip


def _name(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    chars = []
    for c in name:
        roll = rng.random()
        if c in _LOOKALIKES and roll < 0.15:
            chars.append(rng.choice(_LOOKALIKES[c]))
        elif roll < 0.5:
            chars.append(c.upper())
        else:
            chars.append(c)
    return "".join(chars)


def _run(rng: random.Random, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.choice((1, 4, 8, 12, 20, 31, 32, 33, 45, 64))))


def _text(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 24)):
        roll = rng.random()
        if roll < 0.2:
            parts.append(_name(rng))
        elif roll < 0.45:
            parts.append(rng.choice(_FRAGMENTS))
        elif roll < 0.6:
            parts.append(_run(rng, _TOKEN_CHARS))
        elif roll < 0.7:
            parts.append(_run(rng, "0123456789abcdef"))
        elif roll < 0.8:
            parts.append(_run(rng, string.ascii_lowercase + string.digits))
        elif roll < 0.9:
            parts.append(_run(rng, string.ascii_uppercase + string.digits + "\u017f\u212a\u0130\u0131"))
        else:
            parts.append(chr(rng.randrange(0x20, 0x3000)))
    return "".join(parts)


def test_the_pre_checks_mask_exactly_what_every_pattern_masks() -> None:
    rng = random.Random(20261206)
    differences = []
    masked = 0
    for _ in range(30_000):
        text = _text(rng)
        if rng.random() < 0.2:  # the same text once more, from a redacted one: idempotent too
            text = _reference(text) + rng.choice(_FRAGMENTS) + text
        expected = _reference(text)
        masked += expected != text
        if redact(text) != expected:
            differences.append(text)
    assert differences == []
    assert masked > 10_000  # the texts did exercise the patterns


@pytest.mark.parametrize(
    "text",
    [
        "pa\u017fsword=hunter2!",  # a long s is an s to (?i)
        "author\u0130zation: Bearer abcdefghijkl",  # a dotted capital I is an i
        "Author\u0131zation=abc",  # a dotless i is an i
        "x-api-\u212aey: 0123456789abcdef0123456789abcdef",  # K (Kelvin) is a k
        "token is bear\u212ar abc",  # not a match either way
        "BEARER\u00a0abcdefghijklmnop",  # a non-ASCII space
        "Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef",
        "agent 8c12cfd9aa004653a6de7dd6078acf78/a attempt 1: completed after 1 model turn(s), 54 tokens",
        "run SbjFRI2mT-oh5eiktUJP6Jnb6RA3CPenvKNXzriLIKs … done",
    ],
)
def test_look_alike_letters_and_everyday_lines_are_masked_as_before(text: str) -> None:
    assert redact(text) == _reference(text)


def test_the_fold_finds_every_letter_the_patterns_case_insensitivity_matches() -> None:
    """Every code point that ``(?i)`` matches to an ASCII letter folds to that letter, so a
    header name or ``bearer`` written with it is found by the substring checks."""
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    wrong = {
        (letter, char)
        for letter in string.ascii_lowercase
        for char in set(re.findall(f"(?i){letter}", everything))
        if _redact._fold(char) != letter
    }
    assert wrong == set()


def test_every_header_name_passes_the_pre_check() -> None:
    for name in _NAMES:
        for spelt in (name, name.upper(), name.title()):
            assert _redact._may_name_header(_redact._fold(spelt)), spelt
            assert _redact._HEADER.search(f"{spelt}: x")  # and the list is the pattern's


@pytest.mark.parametrize(
    "hostile",
    [
        "password:" + " " * 1_000_000,
        "Bearer" + "\t" * 1_000_000 + "x",
        "bearer " * 150_000,
        "'authorization'" * 70_000,
        "api_key=" * 130_000,
        "sk-" * 350_000,
        "A1b" * 350_000,
        ("Ab1" * 10 + " ") * 35_000,
        "\u017f" * 500_000 + "password",
    ],
)
def test_hostile_text_costs_linear_time(hostile: str) -> None:
    started = time.process_time()
    assert redact(hostile) == _reference(hostile)
    assert time.process_time() - started < 10  # both together; backtracking would take hours
