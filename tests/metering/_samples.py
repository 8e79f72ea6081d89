"""Sample usage records for the metering tests."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from convergio.metering import UNITS, PriceTable, UsageRecord, cost_of

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("azure-openai", "gpt-4.1"),
    ("anthropic", "claude-sonnet-4-0"),
    ("offline", "echo"),
    ("openai", "whisper-1"),
    ("openai-compatible", "llama-3-8b"),  # unpriced
]


def record(**overrides: Any) -> UsageRecord:
    """One valid record; override any field."""
    fields: dict[str, Any] = {
        "tenant_id": "tenant-a",
        "run_id": "run-1",
        "node_id": "planner",
        "attempt": 1,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "key_mode": "byok",
        "unit": "input_tokens",
        "quantity": 1000,
        "unit_price": Decimal("0.000000138"),
        "cost": Decimal("0.000138"),
        "at": "2026-11-24T10:00:00Z",
    }
    fields.update(overrides)
    return UsageRecord(**fields)


def random_records(seed: int, count: int, *, fractional: bool = False) -> list[UsageRecord]:
    """Records over a few tenants, runs, agents, models, days and every unit, priced from the table.

    Ids are unique (attempt = the record's index), so nothing is deduplicated away.
    """
    rng = random.Random(seed)
    prices = PriceTable.load()
    records = []
    for index in range(count):
        provider, model = rng.choice(MODELS)
        unit = rng.choice(UNITS)
        quantity: int | Decimal = rng.randint(1, 5000)
        if fractional and unit == "audio_seconds":
            quantity = Decimal(rng.randint(1, 9_000_000)).scaleb(-rng.randint(0, 6))
        price = prices.price(provider, model, unit)
        records.append(
            UsageRecord(
                tenant_id=f"tenant-{rng.randint(1, 4)}",
                run_id=f"run-{rng.randint(1, 30)}",
                node_id=rng.choice(["planner", "writer", "reviewer", "quiz"]),
                attempt=index,
                provider=provider,
                model=model,
                key_mode=rng.choice(["byok", "managed"]),
                unit=unit,
                quantity=quantity,
                unit_price=price,
                cost=cost_of(quantity, price),
                at=f"2026-11-{rng.randint(1, 30):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
                unpriced=not prices.is_priced(provider, model, unit),
            )
        )
    return records
