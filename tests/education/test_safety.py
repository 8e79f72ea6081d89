"""edu-safety.review on the real wasmtime host: redaction, age checks, the guard contract, limits."""

from __future__ import annotations

import json
import time

import pytest

from convergio.plugins import PluginToolError
from tests.education.conftest import Call


def redact(review: Call, text: str) -> str:
    answer = review(text=text, stage="prompt")
    assert answer["blocked"] is False
    return str(answer["text"])


def test_a_students_message_loses_name_email_and_phone(review: Call) -> None:
    text = (
        "Hi, my name is Maria Rossi and my email is maria.rossi@example.com. "
        "Call me on +39 333 123 4567. Maria's homework is late."
    )
    answer = review(text=text, stage="prompt")
    redacted = "Hi, my name is [NAME] and my email is [EMAIL]. Call me on [PHONE]. [NAME]'s homework is late."
    assert answer == {
        "text": redacted,
        "blocked": False,
        "redacted": {"emails": 1, "phones": 1, "names": 2},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Student: Luca Bianchi, Grade 4.", "Student: [NAME], Grade 4."),
        ("My name is Zoë Ólafsdóttir.", "My name is [NAME]."),
        ("The pupil Łukasz Nowak said hi.", "The pupil [NAME] said hi."),
        ("I'm Chen and I like maths.", "I'm [NAME] and I like maths."),
        ("Hi, I'm Maria. Hello, It's Luca!", "Hi, I'm [NAME]. Hello, It's Luca!"),
        ("Dear Mrs. O'Brien, thanks for the lesson.", "Dear Mrs. [NAME], thanks for the lesson."),
        ("Best regards,\nAnne-Marie de la Cruz", "Best regards,\n[NAME]"),
        ("Students: Maria, Luca and Ana are absent.", "Students: [NAME], [NAME] and [NAME] are absent."),
        ("my son Tomás van der Berg", "my son [NAME]"),
        # marked by the graph author: any case, and every later mention in the same text
        (
            "[[giovanni verdi]] asked. giovanni wants more. Giovanni's sister helps.",
            "[NAME] asked. [NAME] wants more. [NAME]'s sister helps.",
        ),
        # found after a cue, then wherever the same word appears again
        (
            "Student: Ada Lovelace. Ada finished; Lovelace too.",
            "Student: [NAME]. [NAME] finished; [NAME] too.",
        ),
    ],
)
def test_names_after_cues_and_marked_names_are_redacted(review: Call, text: str, expected: str) -> None:
    assert redact(review, text) == expected


@pytest.mark.parametrize(
    "phone",
    [
        "+39 333 123 4567",
        "+1 (202) 555-0173",
        "+44 20 7946 0958",
        "+33 6 12 34 56 78",
        "+49 30 12345678",
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "555-1234",
        "1-800-555-0199",
        "020 7946 0958",
        "06 12 34 56 78",
        "0612345678",
    ],
)
def test_phone_numbers_in_international_and_local_formats_are_redacted(review: Call, phone: str) -> None:
    assert redact(review, f"Write it down: {phone} is fine.") == "Write it down: [PHONE] is fine."


@pytest.mark.parametrize(
    "number",
    [
        "1789",
        "2019-2020",
        "10 000 000",
        "1,000,000",
        "3.14159265",
        "2026-11-25",
        "25.11.2026",
        "192.168.100.200",
        "12 24 36 48 60",
        "1492 1500",
        "978-0-306-40615-7",
        "12:30",
        "3/4",
        "v1.2.3",
        "1" * 40,
    ],
)
def test_ordinary_numbers_are_not_taken_for_phones(review: Call, number: str) -> None:
    text = f"In the lesson: {number} and more."
    assert redact(review, text) == text


def test_a_phone_cue_accepts_shorter_or_ambiguous_numbers(review: Call) -> None:
    assert redact(review, "Spanish 612 345 678.") == "Spanish 612 345 678."
    assert redact(review, "Call 612 345 678.") == "Call [PHONE]."
    assert redact(review, "Mobile: 612345.") == "Mobile: [PHONE]."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail maria.rossi@example.com now", "mail [EMAIL] now"),
        ("LUCA_MUM+school@Mail.School.co.uk.", "[EMAIL]."),
        ("write to maria [at] example [dot] com", "write to [EMAIL]"),
        ("or luca(at)school.org", "or [EMAIL]"),
        ("<mailto:ana@scuola.it>", "<mailto:[EMAIL]>"),
    ],
)
def test_email_addresses_are_redacted(review: Call, text: str, expected: str) -> None:
    assert redact(review, text) == expected


def test_the_documented_limits_a_name_with_no_cue_and_no_mark_is_not_found(review: Call) -> None:
    # README "Limits": names are found by cues, marks and earlier mentions in the same text only.
    assert redact(review, "You tutor Maria Rossi today.") == "You tutor Maria Rossi today."
    assert redact(review, "Student: maria rossi") == "Student: maria rossi"  # lower case after a cue
    assert redact(review, "Student: [[maria rossi]]") == "Student: [NAME]"  # marking covers both


def test_things_that_only_look_like_emails_stay(review: Call) -> None:
    text = "Not addresses: a@b, x@y.z, @handle, user@localhost and 5 @ 3."
    assert redact(review, text) == text


def test_ordinary_school_text_is_left_exactly_as_it_is(review: Call) -> None:
    text = (
        "Photosynthesis converts light into chemical energy. Name the three states of matter. "
        "The Student Council meets on Monday. I am Italian and my teacher is kind. Hello World! "
        "Dear Parents, the trip to Mississippi and Scunthorpe is in March; the class will visit "
        "a cockpit, Sussex and the Assassins' Creed exhibition with a therapist. "
        "Mr. and Mrs. are titles. The French Revolution began in 1789."
    )
    answer = review(text=text, stage="output")
    assert answer == {"text": text, "blocked": False, "redacted": {"emails": 0, "phones": 0, "names": 0}}


def test_the_redacted_text_is_a_fixed_point(review: Call) -> None:
    once = redact(review, "Dear Maria Rossi, phone 020 7946 0958, mail m.rossi@example.org. Student: Luca.")
    assert redact(review, once) == once
    assert once == "Dear [NAME], phone [PHONE], mail [EMAIL]. Student: [NAME]."


def test_output_that_is_not_age_appropriate_is_blocked_with_a_reason(review: Call) -> None:
    text = "This is a fucking awful story, Maria. Shit happens."
    answer = review(text=text, stage="output")
    assert answer["blocked"] is True
    assert answer["reason"] == (
        'not age-appropriate for students: explicit language ("f***" and 1 more flagged word)'
    )
    assert answer["text"] == "This is a f****** awful story, Maria. S*** happens."
    sexual = review(text="A sexy picture.", stage="output")
    assert sexual["reason"] == 'not age-appropriate for students: sexual content ("s***")'
    # Before the model, the same words are only redacted (the model's answer is what is checked).
    assert review(text=text, stage="prompt")["blocked"] is False


def test_a_text_at_the_size_limit_is_reviewed_quickly_and_one_over_it_is_refused(review: Call) -> None:
    unit = "Student: Maria Rossi, maria@example.com, 020 7946 0958. Photosynthesis needs light. "
    text = (unit * (200_000 // len(unit) + 1))[:200_000]
    started = time.monotonic()
    answer = review(text=text, stage="output")
    assert time.monotonic() - started < 5
    assert "Maria" not in answer["text"] and "maria@" not in answer["text"] and "7946" not in answer["text"]
    repeats = text.count(unit)
    assert answer["redacted"]["emails"] >= repeats and answer["redacted"]["phones"] >= repeats
    with pytest.raises(PluginToolError, match="invalid text"):
        review(text=text + "x", stage="prompt")


@pytest.mark.parametrize(
    "text",
    [
        "数学はたのしい 🙂 مرحبا שלום e\u0301cole \u200b\u00a0tab\there",
        'control \x00\x01\x1f characters and \\ backslashes " quotes',
        "[[" * 5000 + "unclosed",
        "@" * 20_000,
        "a@" * 10_000,
        ("+" + "1 " * 30) * 100,
        "Dear " * 10_000,
    ],
    ids=["unicode", "control", "brackets", "ats", "a-ats", "pluses", "cues"],
)
def test_hostile_and_unicode_texts_round_trip_without_harm(review: Call, text: str) -> None:
    answer = review(text=text, stage="output")
    assert answer["blocked"] is False
    assert answer["redacted"]["emails"] == answer["redacted"]["names"] == 0
    assert answer["text"] == text or "[PHONE]" in answer["text"]
    json.dumps(answer)  # valid JSON all the way through


def test_unicode_around_personal_data_survives_redaction(review: Call) -> None:
    text = "🙂 Ciao! Sono qui. My name is Chloé Durand — écris à chloé.durand@école.fr 🙂"
    assert redact(review, text) == "🙂 Ciao! Sono qui. My name is [NAME] — écris à [EMAIL] 🙂"
