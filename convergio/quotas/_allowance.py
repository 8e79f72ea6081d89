"""One agent call's share of the tenant's money budgets: reserve what its requests may cost, bound
each request to it, settle what the ledger kept (ADR 0016), above the reservation too (ADR 0051).

The reservation is made at the call's first provider request, when the prompt is known: the
prompt's token bound at the input price plus the output tokens asked for at the output price.
Each request of the call (a tool loop makes several) is then bounded by what the reservation
still holds after what the earlier ones used, so the call's cost never passes its reservation
and the reservations together never pass the cap, however many run at once. A provider that
bills past the bound anyway is settled at what it billed: the month's total is the truth, so the
next reservation sees the overrun (logged, and recorded as an ``overrun`` event).

A refusal is not the end while other calls hold open reservations: they are upper bounds and
most of them come back when those calls settle. The call waits for them (briefly, polling),
then asks for what is left instead of failing, down to :data:`MIN_OUTPUT_TOKENS`.

A model with no price (neither the connection's own prices nor ``prices.json``) would cost the
budget nothing, so under a cap it is refused unless the operator allows unpriced calls
(``CONVERGIO_UNPRICED_UNDER_CAP=allow``); its usage is then recorded as unpriced, never as free.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from convergio.agents import Allowed
from convergio.metering import PriceTable
from convergio.providers import Usage

from ._quota import Decision, KeyMode, QuotaStore

__all__ = ["MIN_OUTPUT_TOKENS", "QUOTA_WAIT_S", "MonthlyAllowance", "UnpricedPolicy", "unpriced_refusal"]

UnpricedPolicy = Literal["refuse", "allow"]
"""Whether a tenant with a cap may call a model with no price (its spend would escape the cap)."""

QUOTA_WAIT_S = 10.0
"""How long a refused call waits for other calls' open reservations to settle before it asks for less."""
MIN_OUTPUT_TOKENS = 64
"""The fewest output tokens a call shrinks to rather than being refused (fewer is no answer)."""
_POLL_S = (0.02, 0.5)
_MAX_TRIES = 10_000

_ZERO = Decimal(0)
_log = logging.getLogger("convergio.quotas")


class MonthlyAllowance:
    """An :class:`~convergio.agents.Allowance` over the quota store, for one agent call.

    Args:
        store: The quota store.
        prices: The price table.
        tenant_id: The tenant.
        call: The call's key, the same on every delivery (a redelivery reuses the reservation).
        key_mode: ``byok`` or ``managed``.
        provider: The provider kind (the price table's ``provider``).
        cheaper: From a model to its cheaper sibling (managed-key downgrade), or ``None``.
        wait_s: The longest a refused call waits for open reservations to settle.
        unpriced: What to do with an unpriced model when a cap applies (no cap: it runs).
        connection: The connection's name, for the refusal's message.
    """

    def __init__(
        self,
        store: QuotaStore,
        prices: PriceTable,
        tenant_id: str,
        *,
        call: str,
        key_mode: KeyMode,
        provider: str,
        cheaper: Callable[[str, str], str | None],
        wait_s: float = QUOTA_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
        unpriced: UnpricedPolicy = "refuse",
        connection: str = "",
    ) -> None:
        self.store = store
        self.prices = prices
        self.tenant_id = tenant_id
        self.call = call
        self.key_mode: KeyMode = key_mode
        self.provider = provider
        self._cheaper = cheaper
        self._wait_s = wait_s
        self.sleep = sleep  # how a refused first request waits; a call that must not wait swaps it
        self.unpriced: UnpricedPolicy = unpriced
        self.connection = connection or provider
        self.decision: Decision | None = None
        self.model: str | None = None  # the model called instead of the one asked (a downgrade)
        self._asked = ""  # the model asked for at the first request
        self._priced: dict[str, tuple[Decimal, Decimal, bool]] = {}

    def allow(self, *, model: str, prompt_tokens: int, want: int, used: Usage) -> Allowed:
        """Reserve at the first request; bound every request to what the reservation still holds."""
        if self.decision is None:
            return self._reserve(model, prompt_tokens, want)
        if not self.decision.allowed:
            return Allowed(0, reason=self.decision.reason)
        priced = self.model or model
        left = self.decision.reserved - self._cost(priced, used) - self._input(priced, prompt_tokens)
        tokens = self._tokens(priced, left, want)
        reason = "" if tokens else "budget_exhausted: this call has spent what it reserved"
        return Allowed(tokens, self.model, reason)

    def settle(self, cost_eur: Decimal) -> Decimal:
        """Settle the reservation at ``cost_eur`` (what the ledger kept), above what was reserved
        too: the budget counts what the tenant is billed, so a cap that an overrun reached stops
        the next calls (ADR 0051). Returns what was settled."""
        decision = self.decision
        if decision is None or decision.reservation_id is None:
            return Decimal(0)
        if cost_eur <= decision.reserved:
            self.store.settle(decision.reservation_id, cost_eur)
            return cost_eur
        called = f"connection {self.connection!r} ({self.provider}), model {self.model or self._asked}"
        _log.warning(
            "call %s of tenant %s (%s) cost %s EUR, over the %s EUR it reserved (the provider passed "
            "max_tokens?): the budget counts the cost",
            self.call,
            self.tenant_id,
            called,
            cost_eur,
            decision.reserved,
        )
        self.store.settle(decision.reservation_id, cost_eur, called=called)
        return cost_eur

    def settle_in_full(self) -> None:
        """Settle at the whole reservation: what the call cost is unknown (its ledger write
        failed), and the budget must never count less than may have been spent."""
        if self.decision is not None and self.decision.reservation_id is not None:
            self.store.settle(self.decision.reservation_id, self.decision.reserved)

    # -- the first request ----------------------------------------------------------------

    def _reserve(self, model: str, prompt_tokens: int, want: int) -> Allowed:
        """Reserve for ``want`` output tokens; refused while others hold open reservations,
        wait for them, then shrink ``want`` to what is left."""
        self._asked = model
        if self.unpriced == "refuse" and not self._prices(model)[2]:
            room = self.store.room(self.tenant_id, self.key_mode, now=datetime.now(UTC))
            if room.free is not None:  # a cap applies: an unpriced call would escape it
                self.decision = Decision(
                    False, reason=unpriced_refusal(self.connection, self.provider, model)
                )
                return Allowed(0, reason=self.decision.reason)
        deadline = time.monotonic() + self._wait_s
        pause = _POLL_S[0]
        input_eur = self._input(model, prompt_tokens)
        decision = Decision(False, reason="budget_exhausted")
        for _ in range(_MAX_TRIES):
            estimate = input_eur + self._output(model, want)
            decision = self.store.reserve(
                self.tenant_id, self.key_mode, estimate, now=datetime.now(UTC), call=self.call
            )
            if decision.allowed or not decision.reason.startswith("budget_exhausted"):
                break
            room = self.store.room(self.tenant_id, self.key_mode, now=datetime.now(UTC))
            free = want if room.free is None else self._tokens(model, room.free - input_eur, want)
            if free >= want:
                continue  # freed since the refusal: try again as asked
            if room.held > 0 and time.monotonic() < deadline:
                self.sleep(pause)
                pause = min(pause * 1.5, _POLL_S[1])
                continue
            if free < min(MIN_OUTPUT_TOKENS, want):
                break
            want = free
        self.decision = decision
        if not decision.allowed:
            return Allowed(0, reason=decision.reason)
        if decision.downgrade:
            self.model = self._cheaper(self.provider, model)
        priced = self.model or model
        tokens = self._tokens(priced, decision.reserved - self._input(priced, prompt_tokens), want)
        return Allowed(tokens, self.model, "" if tokens else "budget_exhausted: nothing left to reserve")

    # -- prices ---------------------------------------------------------------------------

    def _prices(self, model: str) -> tuple[Decimal, Decimal, bool]:
        """``model``'s input and output token prices, and whether both are priced (else they
        are 0), looked up once per call and model, in one look at the table."""
        found = self._priced.get(model)
        if found is None:
            entry = self.prices.entry(self.provider, model) or {}
            given = entry.get("input_tokens"), entry.get("output_tokens")
            found = self._priced[model] = (
                _ZERO if given[0] is None else given[0],
                _ZERO if given[1] is None else given[1],
                None not in given,
            )
        return found

    def _input(self, model: str, tokens: int) -> Decimal:
        return self._prices(model)[0] * tokens

    def _output(self, model: str, tokens: int) -> Decimal:
        return self._prices(model)[1] * tokens

    def _cost(self, model: str, used: Usage) -> Decimal:
        return self._input(model, used.prompt_tokens) + self._output(model, used.completion_tokens)

    def _tokens(self, model: str, money: Decimal, want: int) -> int:
        """How many of ``want`` output tokens ``money`` pays for (all of them when output is free)."""
        if money < 0:
            return 0
        price = self._prices(model)[1]
        if price == 0:
            return want
        return min(want, int((money / price).to_integral_value(rounding=ROUND_FLOOR)))


def unpriced_refusal(connection: str, provider: str, model: str) -> str:
    """Why an unpriced call was refused under a cap, and how to fix it."""
    return (
        f"unpriced: model {model!r} of connection {connection!r} ({provider}) has no price, so its "
        "spend would escape this tenant's budget cap; set prices on the connection (PUT "
        f'/api/v1/tenants/me/connections/{connection} with "prices": {{"input_tokens": ..., '
        '"output_tokens": ...} in EUR per token), or let the operator allow unpriced calls '
        "under a cap (CONVERGIO_UNPRICED_UNDER_CAP=allow)"
    )
