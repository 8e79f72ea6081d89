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
"""

import functools
import logging
from typing import Any

from convergio.agents import AgentCall, AgentOutcome, Resolve, Target, parse_call, run_agent
from convergio.metering import Metered, PriceTable, meter_kept, now_iso
from convergio.providers import PROVIDER_NAMES, CallScope, Provider, abortable, get_provider
from convergio.quotas import QUOTA_WAIT_S, MonthlyAllowance
from convergio.streams import TextChannel
from convergio.telemetry import agent_call_span
from convergio.wiring import Components, components

_log = logging.getLogger("convergio.agents")

_Found = Target | LookupError | ValueError
"""What the agent's provider name names, or why it names nothing (``run_agent`` reports that)."""


def run_agent_activity(call: dict[str, Any]) -> dict[str, Any]:
    """Validate the orchestrator's call, admit it, run it, meter it, return the outcome as JSON."""
    parts = components()
    agent_call = parse_call(call)  # the agent's spec validated once per process (ADR 0048)
    began_at = now_iso()  # it got a worker: the time it waited ends here
    with agent_call_span(agent_call, graph=agent_call.graph) as span:
        if parts.streams.cancelled(agent_call.run_id):  # queued before the cancel: nothing to call or bill
            span.set_outcome(status="failed")
            return _cancelled().model_dump(mode="json")
        watched = _began(parts, agent_call, began_at)
        target = _target(parts, agent_call)
        prices = _prices(parts, target)
        allowance = _allowance(parts, agent_call, prices, target)
        text = (
            TextChannel(parts.streams, agent_call.run_id, agent_call.node_id, agent_call.attempt)
            if watched and _streams_text(target)
            else None
        )
        try:
            # Aborted in flight once the run is cancelled (ADR 0017); what did run is still billed.
            with abortable(lambda: parts.streams.cancelled(agent_call.run_id)) as scope:
                resolve = _resolve_in(parts, scope, agent_call, target)
                outcome = run_agent(
                    agent_call, resolve=resolve, tools=parts.toolbox, on_text=text, allowance=allowance
                )
        except BaseException:
            if allowance is not None:  # nothing to meter: settle with what the ledger kept, if anything
                _metered(parts, agent_call, None, allowance, prices)
            raise
        finally:
            if text is not None:
                text.close()
            elif watched:  # its ``began`` readable before the run can end
                parts.streams.seal(agent_call.run_id)
        kept = _metered(parts, agent_call, outcome, allowance, prices)
        span.set_outcome(
            status=outcome.status,
            usage=kept.usage,
            cost_eur=kept.cost,
            model=outcome.model,
            provider=outcome.provider,
        )
    # The usage shown is what the ledger kept (see ``_metered``). The node id rides along so a
    # failed run's finished outputs can be found in its history (a retry of the failed agents
    # keeps them), and when the call began, so the agent's calls (GET /runs/{id}/agents/{node})
    # say how long it waited for a worker; the orchestrator ignores both keys.
    return {
        **outcome.json_fields(),
        "usage": kept.usage,
        "node_id": agent_call.node_id,
        "started_at": began_at,
    }


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


def _metered(
    parts: Components,
    call: AgentCall,
    outcome: AgentOutcome | None,
    allowance: MonthlyAllowance | None,
    prices: PriceTable,
) -> Metered:
    """Record the outcome's usage and settle the quota with what the ledger kept: a re-sent
    call's outcome shows its first delivery's usage, the one billed (what this returns). A
    ledger that fails leaves the quota settled at the whole reservation (never below what may
    have been spent)."""
    outcome = outcome or AgentOutcome(status="failed", usage={}, provider="", model="")
    try:
        kept = meter_kept(
            parts.ledger,
            prices,
            tenant_id=call.tenant,
            run_id=call.run_id,
            node_id=call.node_id,
            step=call.step,
            provider=outcome.provider,
            model=outcome.model,
            usage=outcome.usage,
            key_mode=allowance.key_mode if allowance else "byok",
        )
    except BaseException:
        if allowance is not None:
            allowance.settle_in_full()
        raise
    if allowance is not None:
        allowance.settle(kept.cost)
    return kept
