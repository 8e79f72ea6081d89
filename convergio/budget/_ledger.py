"""The run ledger: how a run budget is shared by nodes running at the same time.

Every agent call reserves tokens and tool calls before it starts and settles
what it really used when it ends. Reservations are what make the run budget a
cap rather than a report: parallel nodes cannot together spend more than the
run has, because each one is given (and the provider call is capped at) only
its reservation. A call that declares no limit of its own gets a fair share of
what is left: the unreserved remainder divided by the number of nodes still to
start, so the first node of a graph cannot starve the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Grant", "RunLedger"]


@dataclass(frozen=True, slots=True)
class Grant:
    """What one call may use; ``None`` means unlimited."""

    tokens: int | None
    tool_calls: int | None


@dataclass(slots=True)
class _Pool:
    limit: int | None
    spent: int = 0
    reserved: int = 0

    def free(self, want: int | None, share: int) -> int | None:
        if self.limit is None:
            return want
        left = max(0, self.limit - self.spent - self.reserved)
        return min(left, want) if want is not None else left // max(1, share)

    def take(self, want: int | None, share: int) -> int | None:
        amount = self.free(want, share)
        self.reserved += amount or 0
        return amount

    def settle(self, reserved: int | None, used: int) -> None:
        if self.limit is not None:
            self.reserved -= reserved or 0
        self.spent += used


class RunLedger:
    """Reservations and spending against one run's token and tool-call limits."""

    def __init__(self, *, max_tokens: int | None, max_tool_calls: int | None) -> None:
        self._tokens = _Pool(max_tokens)
        self._tools = _Pool(max_tool_calls)
        self._open: dict[str, Grant] = {}

    @property
    def spent_tokens(self) -> int:
        return self._tokens.spent

    @property
    def spent_tool_calls(self) -> int:
        return self._tools.spent

    def grant(self, key: str, *, tokens: int | None, tool_calls: int | None, share: int = 1) -> Grant | None:
        """Reserve for call ``key``; ``None`` when the run has no tokens left for it.

        Args:
            key: the call's unique key (settled with the same key).
            tokens: the call's own limit, or ``None`` for a fair share of the run's.
            tool_calls: likewise for tool calls.
            share: how many calls the remaining budget must still be shared by.
        """
        if key in self._open:
            raise ValueError(f"call {key!r} already holds a reservation")
        if self._tokens.free(tokens, share) == 0:
            return None
        grant = Grant(self._tokens.take(tokens, share), self._tools.take(tool_calls, share))
        self._open[key] = grant
        return grant

    def settle(self, key: str, *, tokens: int, tool_calls: int) -> None:
        """Replace call ``key``'s reservation by what it used (also for calls that failed)."""
        grant = self._open.pop(key, Grant(None, None))
        self._tokens.settle(grant.tokens, tokens)
        self._tools.settle(grant.tool_calls, tool_calls)

    def abandon(self, key: str) -> None:
        """Charge a call that will not report (timed out): it may still spend its reservation."""
        grant = self._open.get(key, Grant(None, None))
        self.settle(key, tokens=grant.tokens or 0, tool_calls=grant.tool_calls or 0)
