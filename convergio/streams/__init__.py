"""Live run events for watchers: an append-only per-run channel and SSE framing.

RunStream     append / tail events of a run (SQLite in the home directory locally)
TextChannel   an agent's ``on_text`` callback that appends text deltas in small batches
sse()         one ``text/event-stream`` message
"""

from convergio.streams._sse import sse
from convergio.streams._store import STORE_FILE, RunStream, StreamEvent, TextChannel

__all__ = ["STORE_FILE", "RunStream", "StreamEvent", "TextChannel", "sse"]
