"""Model providers behind one interface: OpenAI, Azure OpenAI, Anthropic and the offline simulator.

The agent runner speaks only ``Provider.complete(CompletionRequest) -> Completion``; each
provider maps that onto its own wire format. ``offline`` is the embedded default: a
deterministic simulator that needs no key and no network.
"""

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
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "MESSAGE_OVERHEAD",
    "PROVIDER_NAMES",
    "Completion",
    "CompletionRequest",
    "FinishReason",
    "Message",
    "OfflineProvider",
    "Provider",
    "ProviderError",
    "ProviderErrorCode",
    "Role",
    "ToolCall",
    "ToolSpec",
    "UnknownProvider",
    "Usage",
    "count_message_tokens",
    "count_tokens",
    "get_provider",
]
