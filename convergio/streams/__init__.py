"""Live run events for watchers: an append-only per-run channel and SSE framing.

RunStream (Protocol)   append / tail events of a run, and whether anyone watches it
├── SqliteRunStream    a file in the home directory (embedded default)
├── CosmosRunStream    the control plane's Cosmos DB (instances share it; readers resume anywhere)
open_run_stream()      picks one
TextChannel            an agent's ``on_text`` callback that appends text deltas in small batches
sse(), sse_text()      one ``text/event-stream`` message (data as a value, or as compact JSON text)
"""

from convergio.streams._cosmos import CosmosRunStream
from convergio.streams._sqlite import SqliteRunStream
from convergio.streams._sse import compact, sse, sse_text
from convergio.streams._store import STORE_FILE, RunStream, StreamEvent, TextChannel, open_run_stream

__all__ = [
    "STORE_FILE",
    "CosmosRunStream",
    "RunStream",
    "SqliteRunStream",
    "StreamEvent",
    "TextChannel",
    "compact",
    "open_run_stream",
    "sse",
    "sse_text",
]
