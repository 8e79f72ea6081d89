"""Admission of one provider call against the tenant's quotas: reserve, maybe downgrade, settle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from convergio.metering import PriceTable

from ._allowance import QUOTA_WAIT_S, MonthlyAllowance, UnpricedPolicy
from ._quota import Decision, KeyMode, QuotaStore

__all__ = ["Admission", "SpendGuard", "cheaper_model"]

DEFAULT_ESTIMATE_TOKENS = 8192
"""Tokens :meth:`SpendGuard.admit` assumes for a call with no token budget. The activity uses
:meth:`SpendGuard.allowance` instead, which reserves what the request's ``max_tokens`` can cost."""

_DOWNGRADES = json.loads((Path(__file__).with_name("downgrades.json")).read_text(encoding="utf-8"))["cheaper"]


def cheaper_model(provider: str, model: str) -> str | None:
    """The cheaper model of the same family, from the data file; ``None`` when there is none."""
    found = _DOWNGRADES.get(f"{provider}:{model}")
    return str(found) if found else None


@dataclass(frozen=True, slots=True)
class Admission:
    decision: Decision
    model: str
    key_mode: KeyMode


class SpendGuard:
    """Reserve an upper bound before a call, settle the real cost after."""

    def __init__(self, store: QuotaStore, prices: PriceTable) -> None:
        self.store = store
        self.prices = prices

    def estimate(self, provider: str, model: str, max_tokens: int | None) -> Decimal:
        tokens = max_tokens if max_tokens is not None else DEFAULT_ESTIMATE_TOKENS
        unit = max(
            self.prices.price(provider, model, "input_tokens"),
            self.prices.price(provider, model, "output_tokens"),
        )
        return unit * tokens

    def admit(
        self,
        tenant_id: str,
        *,
        call: str,
        key_mode: KeyMode,
        provider: str,
        model: str,
        max_tokens: int | None,
        now: datetime,
    ) -> Admission:
        """Reserve for the provider call ``call`` (the same key on every delivery of the call,
        so a redelivered call reuses its reservation)."""
        estimate = self.estimate(provider, model, max_tokens)
        decision = self.store.reserve(tenant_id, key_mode, estimate, now=now, call=call)
        if decision.allowed and decision.downgrade:
            model = cheaper_model(provider, model) or model
        return Admission(decision, model, key_mode)

    def allowance(
        self,
        tenant_id: str,
        *,
        call: str,
        key_mode: KeyMode,
        provider: str,
        wait_s: float = QUOTA_WAIT_S,
        prices: PriceTable | None = None,
        unpriced: UnpricedPolicy = "refuse",
        connection: str = "",
    ) -> MonthlyAllowance:
        """The money budgets of one agent call: reserved at its first provider request, from the
        prompt and the output bound, instead of a guess made before the prompt exists (ADR 0016).
        ``prices``: the call's (its connection's own, else the guard's); ``unpriced``: whether a
        model with no price may run under a cap."""
        return MonthlyAllowance(
            self.store,
            self.prices if prices is None else prices,
            tenant_id,
            call=call,
            key_mode=key_mode,
            provider=provider,
            cheaper=cheaper_model,
            wait_s=wait_s,
            unpriced=unpriced,
            connection=connection,
        )

    def settle(self, admission: Admission, cost_eur: Decimal) -> None:
        if admission.decision.reservation_id is not None:
            self.store.settle(admission.decision.reservation_id, cost_eur)
