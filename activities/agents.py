"""The ``run_agent`` activity: one agent call (prompt → provider → tools), thin by design.

Around the call: the tenant's monthly quotas are reserved at its first provider request and
bound every request's ``max_tokens`` (a managed key may be downgraded or throttled; ADR 0016),
the provider key is resolved by reference at call time (it never appears in the activity's
input or output), the usage goes to the ledger before the activity returns (keyed so a
redelivered or replayed call never bills twice; what the ledger kept is what the outcome shows
and the quota settles), and the call is one telemetry span in its run's trace. A cancelled
run's calls are not made, or are aborted in flight (ADR 0017). A connection's own prices, when
it has them, price its calls (reservation and ledger) instead of ``prices.json``. The call reads
its connection's record once (on Azure a Cosmos point read) and prices, admits and builds its
provider from that reading; the key is read when the provider is built. While someone
watches the run, the call says when it began (a ``began`` stream event): until then the node
waited for a worker, which the run page shows as queued; and its provider's text streams there
as it comes, unless the provider answers whole (the offline one): then the answer is the node's
output and the call writes nothing more (ADR 0055).

The activity is ``async`` (ADR 0065): the calls of a fan-out run together on one thread's event
loop and await their ledger write together, one write for the loop's turn. A call that cannot
wait (a provider that answers at once, no tools or guards) is made on the loop's thread; any
other on a thread of the agent calls' pool, so the loop goes on while it waits on the network.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from convergio.agents import OFFLINE, AgentCall, AgentOutcome, Resolve, Target, parse_call, run_agent
from convergio.metering import Metered, PriceTable, meter_kept, meter_kept_async, now_iso
from convergio.providers import PROVIDER_NAMES, CallScope, Provider, abortable, get_provider
from convergio.quotas import QUOTA_WAIT_S, MonthlyAllowance
from convergio.streams import TextChannel
from convergio.telemetry import agent_call_span
from convergio.wiring import Components, components

_log = logging.getLogger("convergio.agents")

_Found = Target | LookupError | ValueError
"""What the agent's provider name names, or why it names nothing (``run_agent`` reports that)."""


async def run_agent_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Validate the orchestrator's call, admit it, run it, meter it, return the outcome as JSON.

    A call that waits on nothing runs on this loop's thread and writes its usage with the
    loop's other calls; any other is made and metered on a thread of the agent calls' pool
    while the loop goes on (ADR 0065).
    """
    parts = components()
    agent_call = parse_call(call)  # the agent's spec validated once per process (ADR 0048)
    if not _answers_now(agent_call):
        return await asyncio.get_running_loop().run_in_executor(
            _threads(parts), _on_thread, parts, agent_call
        )
    with _Call(parts, agent_call) as run:
        if run.result is None:
            try:
                try:
                    outcome = run.made_here()
                except _WouldWait:  # nothing was reserved or called: made again where it may wait
                    outcome = await asyncio.get_running_loop().run_in_executor(_threads(parts), run.make)
            except BaseException:
                if run.allowance is not None:  # nothing to meter: settle with what the ledger kept
                    await run.metered_async(None)
                raise
            run.finish(outcome, await run.metered_async(outcome))
    assert run.result is not None
    return run.result


def _on_thread(parts: Components, agent_call: AgentCall) -> dict[str, Any]:
    """A call that may wait (a provider over the network, tools, a simulated latency): made
    and metered on this thread, as a sync activity's."""
    with _Call(parts, agent_call) as run:
        if run.result is None:
            try:
                outcome = run.make()
            except BaseException:
                if run.allowance is not None:  # nothing to meter: settle with what the ledger kept
                    run.metered(None)
                raise
            run.finish(outcome, run.metered(outcome))
    assert run.result is not None
    return run.result


class _Call:
    """One agent call's steps around its provider call and its metering: its span, its
    admission, its stream, its settlement and its JSON outcome (``result``; set at entry for a
    call of a cancelled run: nothing to call or bill)."""

    def __init__(self, parts: Components, call: AgentCall) -> None:
        self.parts, self.call = parts, call
        self.began_at = now_iso()  # it got a worker: the time it waited ends here
        self.result: dict[str, Any] | None = None
        self.allowance: MonthlyAllowance | None = None
        self.prices = parts.prices
        self._watched = False
        self._text: TextChannel | None = None

    def __enter__(self) -> _Call:
        parts, call = self.parts, self.call
        self._span_scope = agent_call_span(call, graph=call.graph)
        self._span = self._span_scope.__enter__()
        if parts.streams.cancelled(call.run_id):  # queued before the cancel: nothing to call or bill
            self._span.set_outcome(status="failed")
            self.result = _cancelled().model_dump(mode="json")
            return self
        self._watched = _began(parts, call, self.began_at)
        self._target = _target(parts, call)
        self.prices = _prices(parts, self._target)
        self.allowance = _allowance(parts, call, self.prices, self._target)
        if self._watched and _streams_text(self._target):
            self._text = TextChannel(parts.streams, call.run_id, call.node_id, call.attempt)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._text is not None:
                self._text.close()
            elif self._watched:  # its ``began`` readable before the run can end
                self.parts.streams.seal(self.call.run_id)
        finally:
            self._span_scope.__exit__(*exc)

    def make(self) -> AgentOutcome:
        """The provider call. Aborted in flight once the run is cancelled (ADR 0017); what did
        run is still billed."""
        parts, call = self.parts, self.call
        with abortable(lambda: parts.streams.cancelled(call.run_id)) as scope:
            resolve = _resolve_in(parts, scope, call, self._target)
            return run_agent(
                call, resolve=resolve, tools=parts.toolbox, on_text=self._text, allowance=self.allowance
            )

    def made_here(self) -> AgentOutcome:
        """``make`` on this thread, which must not wait: raises ``_WouldWait`` where its
        quota's reservation would wait for others' to settle, before anything was reserved."""
        if self.allowance is None:
            return self.make()
        waits, self.allowance.sleep = self.allowance.sleep, _never_wait
        try:
            return self.make()
        finally:
            self.allowance.sleep = waits

    def metered(self, outcome: AgentOutcome | None) -> Metered:
        """Record the outcome's usage (``None``: the call raised, nothing used) and settle the
        quota with what the ledger kept: a re-sent call's outcome shows its first delivery's
        usage, the one billed (what this returns)."""
        try:
            kept = meter_kept(self.parts.ledger, self.prices, **self._usage(outcome))
        except BaseException:
            self._settle_in_full()
            raise
        return self._settled(kept)

    async def metered_async(self, outcome: AgentOutcome | None) -> Metered:
        """``metered`` on the loop: the usage written with the loop's other calls (ADR 0065)."""
        try:
            kept = await meter_kept_async(self.parts.ledger, self.prices, **self._usage(outcome))
        except BaseException:
            self._settle_in_full()
            raise
        return self._settled(kept)

    def _usage(self, outcome: AgentOutcome | None) -> dict[str, Any]:
        outcome = outcome or AgentOutcome(status="failed", usage={}, provider="", model="")
        call, allowance = self.call, self.allowance
        return {
            "tenant_id": call.tenant,
            "run_id": call.run_id,
            "node_id": call.node_id,
            "step": call.step,
            "provider": outcome.provider,
            "model": outcome.model,
            "usage": outcome.usage,
            "key_mode": allowance.key_mode if allowance else "byok",
        }

    def _settled(self, kept: Metered) -> Metered:
        if self.allowance is not None:
            self.allowance.settle(kept.cost)
        return kept

    def _settle_in_full(self) -> None:
        """A ledger that failed leaves the quota settled at the whole reservation (never below
        what may have been spent)."""
        if self.allowance is not None:
            self.allowance.settle_in_full()

    def finish(self, outcome: AgentOutcome, kept: Metered) -> None:
        self._span.set_outcome(
            status=outcome.status,
            usage=kept.usage,
            cost_eur=kept.cost,
            model=outcome.model,
            provider=outcome.provider,
        )
        # The usage shown is what the ledger kept. The node id rides along so a failed run's
        # finished outputs can be found in its history (a retry of the failed agents keeps
        # them), and when the call began, so the agent's calls (GET /runs/{id}/agents/{node})
        # say how long it waited for a worker; the orchestrator ignores both keys.
        self.result = {
            **outcome.json_fields(),
            "usage": kept.usage,
            "node_id": self.call.node_id,
            "started_at": self.began_at,
        }


class _WouldWait(BaseException):
    """A call made on the loop's thread was about to wait (its quota's reservation): it is made
    again on a thread. A ``BaseException``, so the runner's handlers let it through."""


def _never_wait(_seconds: float) -> None:
    raise _WouldWait


def _answers_now(call: AgentCall) -> bool:
    """Whether the call waits on nothing, known from its spec alone (no read): no tools or
    guards (plugins, servers) and the built-in provider its name names without a read (the
    offline one) says a call with these options answers at once (no simulated latency)."""
    agent = call.agent
    if agent.tools or agent.guards or agent.provider != OFFLINE:
        return False
    answers_now = _offline_answers_now()
    return answers_now is not None and answers_now(agent.options)


@functools.cache
def _offline_answers_now() -> Callable[[Any], bool] | None:
    answers_now: Callable[[Any], bool] | None = getattr(get_provider(OFFLINE), "answers_now", None)
    return answers_now


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads(parts: Components) -> ThreadPoolExecutor:
    """The threads calls that may wait run on: as many as the host's activity threads
    (``CONVERGIO_ACTIVITY_CONCURRENCY``), the calls that wait on providers at once."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(parts.settings.activity_concurrency, thread_name_prefix="agent-call")
        return _pool


def _cancelled() -> AgentOutcome:
    error = "cancelled: the run was cancelled"
    return AgentOutcome(status="failed", error=error, usage={}, provider="", model="")


def _target(parts: Components, call: AgentCall) -> _Found:
    """What the agent's provider names, read once for the whole call; or why it names nothing
    (an unknown or deleted connection: ``run_agent`` reports it as the node's error)."""
    try:
        return parts.resolver.target(call.tenant, call.agent.provider)
    except (LookupError, ValueError) as exc:
        return exc


def _resolve_in(parts: Components, scope: CallScope, call: AgentCall, target: _Found) -> Resolve:
    """The tenant's providers, each call of theirs stopped when ``scope`` aborts; the agent's
    own from ``target`` (its key read now), without reading the connection again."""

    def resolve(tenant: str, name: str) -> Provider:
        if tenant != call.tenant or name != call.agent.provider:
            return scope.wrap(parts.resolver(tenant, name))
        if not isinstance(target, Target):
            raise target
        return scope.wrap(parts.resolver.provider(tenant, target))

    return resolve


def _began(parts: Components, call: AgentCall, at: str) -> bool:
    """Whether someone watches the run (its text then streams); if so, tell them the call began.

    Nobody watching: no write at all. The marker is display only, so a failed write is logged.
    """
    if not parts.streams.watched(call.run_id):
        return False
    # ``step`` is the node's attempt count the run view shows while this call is the current one.
    began = {
        "node": call.node_id,
        "attempt": call.attempt,
        "step": call.step,
        "at": at,
    }
    try:  # stored with the call's text, or by the stream's flusher within 20 ms (ADR 0040)
        parts.streams.post(call.run_id, "began", began)
    except Exception:
        _log.warning("run stream: the start of %s/%s not written", call.run_id, call.node_id, exc_info=True)
    return True


def _streams_text(target: _Found) -> bool:
    """Whether the agent's provider sends its answer in pieces, worth a text channel.

    A built-in provider whose ``stream`` is the protocol's default (the offline one) answers
    whole: its one delta would be a stored copy of the node's output, written as the call ends,
    and its commit the largest part of what watching a run cost (ADR 0055). A name that resolves
    to nothing calls no provider.
    """
    return isinstance(target, Target) and not _answers_whole(target.kind)


@functools.cache
def _answers_whole(kind: str) -> bool:
    """Whether the provider of ``kind`` is built in (no key to read) and streams by ``complete``."""
    return kind in PROVIDER_NAMES and type(get_provider(kind)).stream is Provider.stream


def _prices(parts: Components, target: _Found) -> PriceTable:
    """The call's price table: its connection's own prices over ``prices.json``, when it has some."""
    if not isinstance(target, Target):  # reported by run_agent as the node's error
        return parts.prices
    try:
        return parts.prices.with_connection(target.kind, target.prices)
    except ValueError:  # prices the API would not have saved: the table's, as before
        return parts.prices


def _allowance(
    parts: Components, call: AgentCall, prices: PriceTable, target: _Found
) -> MonthlyAllowance | None:
    """The call's share of the tenant's quotas, reserved once per call however often it is
    delivered; ``None`` when the provider name does not resolve (``run_agent`` then reports
    that as the node's error)."""
    if not isinstance(target, Target):
        return None
    seconds = call.limits.max_seconds
    return parts.guard.allowance(
        call.tenant,
        call=f"{call.run_id}\x1f{call.node_id}\x1f{call.step}\x1f{call.attempt}",
        key_mode=target.key_mode,
        provider=target.kind,
        wait_s=QUOTA_WAIT_S if seconds is None else min(QUOTA_WAIT_S, seconds / 2),
        prices=prices,
        unpriced=parts.settings.unpriced_under_cap,
        connection=call.agent.provider,
    )
