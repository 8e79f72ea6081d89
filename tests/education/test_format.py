"""edu-format.format on the real wasmtime host: dyslexia-friendly and easy-read layouts."""

from __future__ import annotations

import pytest

from convergio.plugins import PluginToolError
from tests.education.conftest import Call

WALL = (
    "Photosynthesis is the process that plants use to make their own food from sunlight, water and "
    "carbon dioxide, and it happens mainly in the leaves; the green pigment chlorophyll captures the "
    "energy of the light. In order to demonstrate this, we utilize a simple experiment."
)


def test_the_dyslexia_preset_puts_one_short_sentence_per_line(fmt: Call) -> None:
    answer = fmt(text=WALL)
    assert answer["text"].split("\n") == [
        "Photosynthesis is the process that plants use to make their own food from sunlight, water and "
        "carbon dioxide.",
        "It happens mainly in the leaves.",
        "The green pigment chlorophyll captures the energy of the light.",
        "In order to demonstrate this, we utilize a simple experiment.",
    ]
    stats = answer["stats"]
    assert (stats["sentences_before"], stats["sentences_after"], stats["sentences_split"]) == (2, 4, 2)
    assert stats["grade_after"] < stats["grade_before"]


def test_easy_read_adds_bullets_plain_words_and_syllable_hints_on_request(fmt: Call) -> None:
    answer = fmt(text=WALL, preset="easy-read", syllables=True)
    lines = answer["text"].split("\n")
    assert all(line.startswith("• ") for line in lines)
    assert lines[-1] == "• To show this, we use a simple experiment (ex·pe·ri·ment)."
    assert lines[0].startswith("• Photosynthesis (Pho·to·syn·the·sis) is the process")
    assert answer["text"].count("(Pho·to·syn·the·sis)") == 1  # a hint once per word, not every time
    assert answer["stats"]["words_swapped"] == 3  # in order to, demonstrate, utilize


@pytest.mark.parametrize(
    ("word", "hint"),
    [
        ("photosynthesis", "pho·to·syn·the·sis"),
        ("comfortable", "com·for·ta·ble"),
        ("revolution", "re·vo·lu·tion"),
        ("chocolate", "cho·co·late"),
        ("communication", "com·mu·ni·ca·tion"),
    ],
)
def test_syllable_hints(fmt: Call, word: str, hint: str) -> None:
    assert fmt(text=f"We say {word}.", syllables=True)["text"] == f"We say {word} ({hint})."


def test_lists_paragraphs_steps_and_abbreviations_are_kept(fmt: Call) -> None:
    text = "Dr. Smith showed it, e.g. in 2024. 2. Wait ten minutes!\n\n\n-   Bubbles   appear.\n1) Oxygen."
    assert fmt(text=text)["text"] == (
        "Dr. Smith showed it, e.g. in 2024.\n2. Wait ten minutes!\n\n- Bubbles appear.\n1) Oxygen."
    )


def test_options_override_the_preset(fmt: Call) -> None:
    answer = fmt(text=WALL, preset="none")
    assert "\n" not in answer["text"] and answer["stats"]["sentences_split"] == 0
    short = fmt(text="One two three four five, and six seven eight nine ten.", max_sentence_words=6)
    assert short["text"] == "One two three four five.\nSix seven eight nine ten."
    joined = fmt(text="First one. Second one.", one_sentence_per_line=False, bullets=True)
    assert joined["text"] == "• First one. Second one."


def test_as_a_guard_prompts_pass_unchanged(fmt: Call) -> None:
    assert fmt(text=WALL, stage="prompt") == {"text": WALL}
    assert fmt(text=WALL, stage="output")["text"] == fmt(text=WALL)["text"]


def test_large_and_unicode_texts(fmt: Call) -> None:
    text = ("Ünïcödé façade 数学 🙂 works; " * 4000)[:100_000]
    answer = fmt(text=text)
    assert "数学 🙂" in answer["text"] and answer["stats"]["words"] > 10_000
    with pytest.raises(PluginToolError, match="invalid text"):
        fmt(text="x" * 100_001)
