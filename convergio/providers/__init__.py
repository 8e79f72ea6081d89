"""Model providers behind one interface: OpenAI, Azure OpenAI, Anthropic and the offline simulator.

The agent runner speaks only ``Provider.complete(CompletionRequest) -> Completion`` (or
``Provider.stream``, text deltas then the completion); each provider maps that onto its own
wire format. ``offline`` is the embedded default: a deterministic simulator that needs no
key and no network, returned by ``get_provider("offline")``.

Real providers are built from a tenant's ``Connection`` and a ``KeySource`` by
``build_provider`` (OpenAI, Azure OpenAI, Anthropic, any OpenAI-compatible server); their
SDKs are imported only then. ``check_endpoint`` vets a connection's endpoint first.
``abortable`` stops a thread's provider calls, in flight too, when its run is cancelled.
"""

from typing import TYPE_CHECKING

from convergio._lazy import lazy_exports

if TYPE_CHECKING:
    from ._abort import CallScope, abortable
    from ._connection import Connection, ConnectionKind, KeySource, build_provider
    from ._guard import check_endpoint
    from ._offline import OfflineProvider
    from ._registry import PROVIDER_NAMES, UnknownProvider, get_provider
    from ._tokens import MESSAGE_OVERHEAD, count_message_tokens, count_tokens
    from ._types import (
        Completion,
        CompletionRequest,
        FinishReason,
        Message,
        Provider,
        ProviderError,
        ProviderErrorCode,
        Role,
        StreamEvent,
        ToolCall,
        ToolSpec,
        Usage,
    )

# Imported on first use (issue 22): the quotas and the API name the types, the connection and the
# endpoint guard at import; the offline provider and the token counter serve calls.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._abort": ("CallScope", "abortable"),
        "._connection": ("Connection", "ConnectionKind", "KeySource", "build_provider"),
        "._guard": ("check_endpoint",),
        "._offline": ("OfflineProvider",),
        "._registry": ("PROVIDER_NAMES", "UnknownProvider", "get_provider"),
        "._tokens": ("MESSAGE_OVERHEAD", "count_message_tokens", "count_tokens"),
        "._types": (
            "Completion",
            "CompletionRequest",
            "FinishReason",
            "Message",
            "Provider",
            "ProviderError",
            "ProviderErrorCode",
            "Role",
            "StreamEvent",
            "ToolCall",
            "ToolSpec",
            "Usage",
        ),
    },
)

__all__ = [
    "MESSAGE_OVERHEAD",
    "PROVIDER_NAMES",
    "CallScope",
    "Completion",
    "CompletionRequest",
    "Connection",
    "ConnectionKind",
    "FinishReason",
    "KeySource",
    "Message",
    "OfflineProvider",
    "Provider",
    "ProviderError",
    "ProviderErrorCode",
    "Role",
    "StreamEvent",
    "ToolCall",
    "ToolSpec",
    "UnknownProvider",
    "Usage",
    "abortable",
    "build_provider",
    "check_endpoint",
    "count_message_tokens",
    "count_tokens",
    "get_provider",
]
