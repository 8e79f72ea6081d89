"""Request and response bodies of the HTTP API; the OpenAPI document is generated from them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, model_validator

__all__ = [
    "ApiModel",
    "BudgetView",
    "CancelIn",
    "ConsentIn",
    "ConnectionIn",
    "ConnectionList",
    "ConnectionView",
    "KeyView",
    "ErrorBody",
    "QuotaEvent",
    "GraphInfo",
    "GraphList",
    "NodeView",
    "RunCreated",
    "RunList",
    "RunRequest",
    "RunStatus",
    "RunSummary",
    "RunView",
    "Usage",
]

RunStatus = Literal["Pending", "Running", "Completed", "Failed", "Terminated"]


class ApiModel(BaseModel):
    # No docstring: a model's docstring is its description in the OpenAPI document.
    # defer_build: a model's validator and serializer are built when a request first needs them,
    # not when ``import function_app`` indexes the routes at a cold start (issue 22).
    model_config = ConfigDict(defer_build=True)


class _In(ApiModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_In):
    """Start a run: an inline graph spec or the name of a shipped graph, and the run input."""

    graph: dict[str, Any] | None = Field(default=None, description="a graph spec (see GraphSpec)")
    graph_ref: str | None = Field(default=None, description="the name of a graph from GET /api/v1/graphs")
    input: JsonValue = None

    @model_validator(mode="after")
    def _one_graph(self) -> RunRequest:
        if (self.graph is None) == (self.graph_ref is None):
            raise ValueError("give exactly one of graph or graph_ref")
        return self


class Usage(ApiModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    tool_calls: int = 0


class NodeView(ApiModel):
    status: str = Field(description="waiting, awaiting_input, running, retrying, or a terminal status")
    attempts: int = 0
    calls: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    usage: Usage = Field(default_factory=Usage)  # a factory: a default instance is deep-copied per use
    cost_eur: str = Field(default="0", description="what the ledger billed for this node, EUR")
    unpriced_tokens: int = Field(default=0, description="tokens of models with no price: not in cost_eur")
    error: str | None = None
    reused: bool = Field(default=False, description="its output was kept from the run this one retries")


class RunCreated(ApiModel):
    id: str
    statusQueryGetUri: str
    sendEventPostUri: str
    terminatePostUri: str
    purgeHistoryDeleteUri: str


class RunView(ApiModel):
    id: str
    graph: str
    status: RunStatus
    created_at: str | None = None
    last_updated_at: str | None = None
    nodes: dict[str, NodeView] = {}
    output: JsonValue = None
    outputs: dict[str, JsonValue] = {}
    usage: Usage = Field(default_factory=Usage)  # a factory: a default instance is deep-copied per use
    cost_eur: str = Field(default="0", description="what the ledger billed for the run, EUR")
    unpriced_tokens: int = Field(default=0, description="tokens of models with no price: not in cost_eur")
    error: str | None = None
    routes: dict[str, JsonValue] = Field(default={}, description="each router's decision: chosen, scores")
    replans: list[JsonValue] = Field(default=[], description="each re-plan: failed node, action, reason")
    cancelled_by: str | None = Field(default=None, description="who cancelled it (member id or role)")
    cancel_reason: str | None = Field(
        default=None, description="the canceller's reason: plain text, at most 200 characters"
    )


class RunSummary(ApiModel):
    id: str
    graph: str
    status: RunStatus
    created_at: str | None = None
    last_updated_at: str | None = None
    finished_at: str | None = Field(default=None, description="when the run ended; null while it goes")
    usage: Usage = Field(default_factory=Usage)  # a factory: a default instance is deep-copied per use
    cost_eur: str = Field(default="0", description="what the ledger billed for the run so far, EUR")
    awaiting_input: bool = Field(default=False, description="it waits for human input (an approval)")
    cancelled_by: str | None = Field(default=None, description="who cancelled it (member id or role)")
    cancel_reason: str | None = Field(
        default=None, description="the canceller's reason: plain text, at most 200 characters"
    )


class RunList(ApiModel):
    """A page of runs, newest first. Page on with ``cursor=next_cursor`` (stable while runs are
    added); ``offset=next_offset`` still works (deprecated: it shifts when new runs arrive)."""

    runs: list[RunSummary]
    next_cursor: str | None = Field(default=None, description="pass as ?cursor= for the next page")
    next_offset: int | None = Field(default=None, description="deprecated: pass as ?offset= instead")


class GraphInfo(ApiModel):
    name: str
    description: str = ""
    agents: int
    input_schema: dict[str, Any] | None = None
    available: bool = Field(
        default=True, description="false: the graph needs something this tenant lacks (see problems)"
    )
    problems: list[dict[str, str]] = Field(
        default=[], description="why it is unavailable, e.g. a plugin tool the tenant has not installed"
    )
    shared: bool = Field(default=False, description="shared with the tenant's students (ADR 0022)")


class GraphList(ApiModel):
    graphs: list[GraphInfo]


class _Error(ApiModel):
    code: str
    message: str
    details: list[dict[str, str]] = []


class ErrorBody(ApiModel):
    error: _Error


_PRICE = r"^\d{1,3}(\.\d{1,18})?$"


class PricesIn(_In):
    """A connection's own prices, EUR per unit as decimal strings (the units of ``prices.json``):
    they replace the price table for the connection's calls, so its spend counts against budgets."""

    input_tokens: str = Field(pattern=_PRICE, description='EUR per input token, e.g. "0.0000023"')
    output_tokens: str = Field(pattern=_PRICE, description='EUR per output token, e.g. "0.0000092"')
    tool_calls: str | None = Field(default=None, pattern=_PRICE, description="EUR per tool call (default 0)")
    audio_seconds: str | None = Field(default=None, pattern=_PRICE, description="EUR per audio second")


class ConnectionIn(_In):
    """A named provider connection; ``key`` is write-only (never returned, only fingerprinted)."""

    kind: Literal["openai", "azure-openai", "anthropic", "openai-compatible", "offline"]
    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    model: str | None = None
    key: SecretStr | None = Field(default=None, min_length=1, max_length=4096)
    prices: PricesIn | None = Field(
        default=None, description="EUR per unit for this connection's calls; none: prices.json's, if any"
    )


class KeyView(ApiModel):
    fingerprint: str


class ConnectionView(ApiModel):
    name: str
    kind: str
    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    model: str | None = None
    key: KeyView | None = None
    updated_at: str = ""
    prices: dict[str, str] | None = Field(default=None, description="EUR per unit; null: prices.json's")


class ConnectionList(ApiModel):
    connections: list[ConnectionView]


class ConsentIn(_In):
    """Explicit consent to managed-key spending over the monthly cap, up to this amount (EUR)."""

    amount_eur: str = Field(pattern=r"^\d{1,6}(\.\d{1,2})?$", description='e.g. "25.00"')


class QuotaEvent(ApiModel):
    at: str
    kind: str = Field(description="downgrade, throttle, consent or overrun")
    detail: str


class BudgetView(ApiModel):
    """The tenant's limits this month and what counts against them (spent plus open reservations)."""

    month: str = Field(description="the calendar month (UTC) the figures are for, YYYY-MM")
    monthly_eur: str | None = Field(description="the monthly limit on all spending; null: no limit")
    spent_eur: str
    managed_enabled: bool = Field(description="whether agents may use the platform's managed keys")
    managed_cap_eur: str = Field(description="the monthly managed-key cap; calls throttle past it")
    managed_spent_eur: str
    overage_consent_eur: str = Field(description="consented managed-key spending over the cap, this month")
    downgrade_at: str = Field(description="share of the managed cap from which calls use a cheaper model")
    events: list[QuotaEvent] = Field(
        description="recent downgrades, throttles, consents and overruns, newest first"
    )


class CancelIn(ApiModel):
    """Cancel a run; the reason is kept in the runs list and shown as plain text."""

    reason: str | None = Field(default=None, max_length=2000, description="at most 200 characters are kept")


class RetryIn(_In):
    """Run a finished run again: ``failed`` keeps the agents that completed, ``all`` redoes everything."""

    mode: Literal["failed", "all"] = "failed"
