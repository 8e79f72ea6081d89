"""A ledger's canonical texts: an instant as fixed-width UTC, a number as plain decimal.

Every ledger stores and compares these texts: fixed-width UTC makes string order time order
(the ledgers' range queries), and plain decimal text keeps a cost exact and never in exponent
form. ``non_negative_decimal`` is the one check of a price or a quantity given as text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

__all__ = ["canonical_time", "decimal_text", "non_negative_decimal"]

_CANONICAL: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
"""The shape ``canonical_time`` returns: such a string only needs its fields' ranges checked."""


def canonical_time(value: str | datetime, *, name: str = "at", allow_date: bool = False) -> str:
    """An ISO 8601 instant as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, fixed width).

    Fixed width makes string order equal time order, which is what the ledgers'
    range queries rely on.

    Args:
        value: An aware datetime or ISO 8601 string with an offset (``Z`` or ``+hh:mm``).
        name: The field name used in error messages.
        allow_date: Accept a bare date (``2026-11-01``) as midnight UTC.

    Returns:
        The canonical UTC string.

    Raises:
        ValueError: If the value is not ISO 8601 or has no offset.
    """
    if isinstance(value, str) and _CANONICAL.fullmatch(value):
        try:  # already canonical (every record of a call, and every stored one, comes this way)
            datetime.fromisoformat(value[:-1])  # the month, day and time are in range
        except ValueError:
            raise ValueError(f"{name} is not an ISO 8601 time: {value!r}") from None
        return value
    if isinstance(value, datetime):
        moment = value
    else:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be an ISO 8601 string, got {type(value).__name__}")
        if allow_date and len(value) == 10:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{name} is not an ISO 8601 date: {value!r}") from None
            return f"{day.isoformat()}T00:00:00.000000Z"
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset (e.g. 'Z'): {value!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decimal_text(value: Decimal | int) -> str:
    """A number as plain decimal text, never in exponent form (``0.00000015``, not ``1.5E-7``).

    Args:
        value: An int or a finite Decimal.

    Returns:
        The text.
    """
    return str(value) if isinstance(value, int) else format(value, "f")


def non_negative_decimal(value: Any, name: str) -> Decimal:
    """``value`` (a ``Decimal``, an int or a decimal string) as a finite ``Decimal`` >= 0.

    Raises:
        ValueError: naming ``name`` and the value, for anything else.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"{name} must be a Decimal, got {type(value).__name__}")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number
