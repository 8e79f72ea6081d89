"""The redaction filter on real log records through real handlers."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator

import pytest

from convergio.secrets import RedactingFilter, Secret, install_redaction, redact

OPENAI = "sk-proj-Zq8vT3xLmN4pR7sW2yB6cD9fG1hJ5kQ0"
ANTHROPIC = "sk-ant-api03-Hh7Jj2Kk9Ll4Mm1Nn8Pp3Qq6Rr0Ss5Tt"
CONVERGIO = "cvg_" + "Ab3dEf6hIj9kLm2oPq5sTu8wXy1zAb4dEf7hIj0kLm3"
AZURE_HEX = "0123456789abcdef0123456789abcdef"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"calling with {OPENAI}", OPENAI),
        (f"key={ANTHROPIC}", ANTHROPIC),
        (f"tenant key {CONVERGIO} rejected", CONVERGIO),
        (f"Authorization: Bearer {JWT}", JWT),
        (f"headers={{'Authorization': 'Bearer {JWT}'}}", JWT),
        (f"token is bearer {JWT}", JWT),
        (f"api-key: {AZURE_HEX}", AZURE_HEX),
        (f'{{"x-api-key": "{AZURE_HEX}"}}', AZURE_HEX),
        (f"X-Api-Key={AZURE_HEX}&q=1", AZURE_HEX),
        (f"api_key = {AZURE_HEX}", AZURE_HEX),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("random blob SbjFRI2mT-oh5eiktUJP6Jnb6RA3CPenvKNXzriLIKs here", None),
        ("base64 cbfvH6l1fUK370Lu7tFh1vUVCM/ku1II+", "cbfvH6l1fUK370Lu7tFh1vUVCM/ku1II+"),
        ("password=hunter2!", "hunter2!"),
    ],
)
def test_redact_masks_key_shapes(text: str, secret: str | None) -> None:
    if secret is None:  # the token is in the text itself
        secret = text.split()[2]
    out = redact(text)
    assert secret not in out
    assert "**********" in out


def test_redact_keeps_what_logs_need() -> None:
    run_id = uuid.uuid4().hex
    text = (
        f"run {run_id} agent planner finished in 412 ms; digest sha256:{'ab12' * 16}; "
        "file /work/main/convergio/secrets/_local.py; sk-learn is fine; bearer of news"
    )
    assert redact(text) == text
    assert redact("") == ""


def test_redact_keeps_prefixes_and_is_idempotent() -> None:
    out = redact(f"{OPENAI} {ANTHROPIC} {CONVERGIO} Bearer {JWT} api-key: {AZURE_HEX}")
    assert out == "sk-********** sk-ant-********** cvg_********** Bearer ********** api-key: **********"
    assert redact(out) == out


@pytest.fixture(autouse=True)
def _no_filter_outlives_its_test() -> Iterator[None]:
    """``install_redaction`` guards the root's handlers, pytest's own among them, and the last
    resort: filters a test added there would rewrite later tests' captured records."""
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    before = {id(h): list(h.filters) for h in handlers if h is not None}
    yield
    for handler in handlers:
        if handler is not None:
            handler.filters[:] = before[id(handler)]


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    log = logging.getLogger(f"test.redact.{uuid.uuid4().hex}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)
    yield log, stream
    log.removeHandler(handler)


def test_filter_redacts_percent_args(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger
    install_redaction(log)
    log.info("calling %s with headers %r", "https://api.openai.com", {"Authorization": f"Bearer {OPENAI}"})
    log.warning("key %s and %d tokens", ANTHROPIC, 42)
    out = stream.getvalue()
    assert OPENAI not in out and ANTHROPIC not in out
    assert "calling https://api.openai.com with headers {'Authorization': 'Bearer **********'}" in out
    assert "key sk-ant-********** and 42 tokens" in out


def test_filter_redacts_exception_text(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger
    install_redaction(log)
    try:
        raise RuntimeError(f"provider said: invalid key {OPENAI}")
    except RuntimeError:
        log.exception("call failed for x-api-key: %s", AZURE_HEX)
    out = stream.getvalue()
    assert OPENAI not in out and AZURE_HEX not in out
    assert "Traceback" in out
    assert "RuntimeError: provider said: invalid key sk-**********" in out


def test_filter_redacts_stack_info_and_survives_bad_format_args(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    install_redaction(log)
    log.info("oops %d", OPENAI)  # a %-format that cannot apply
    log.info("with stack %s", CONVERGIO, stack_info=True)
    out = stream.getvalue()
    assert OPENAI not in out and CONVERGIO not in out
    assert "Stack (most recent call last)" in out


def test_filter_on_a_record_directly() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "use %s and %s", (OPENAI, Secret(OPENAI)), None
    )
    assert RedactingFilter().filter(record) is True
    assert record.args is None
    assert record.getMessage() == "use sk-********** and **********"


def test_install_is_idempotent_and_covers_children_and_last_resort() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    last_resort = logging.lastResort
    try:
        first = install_redaction()
        second = install_redaction()
        assert first is second
        assert [f for f in handler.filters if isinstance(f, RedactingFilter)] == [first]
        assert last_resort is not None
        assert [f for f in last_resort.filters if isinstance(f, RedactingFilter)] == [first]

        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").warning(
            "Request headers: 'Authorization': 'Bearer %s'", JWT
        )
        assert JWT not in stream.getvalue()
        assert "Bearer **********" in stream.getvalue()
    finally:
        root.removeHandler(handler)
        for h in (handler, last_resort):
            if h is not None:
                for f in [f for f in h.filters if isinstance(f, RedactingFilter)]:
                    h.removeFilter(f)
