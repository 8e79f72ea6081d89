"""Orchestrator functions and the HTTP starter that launches them.

Orchestrators are deterministic generators: no I/O, clocks or randomness, only
the context's APIs. They import no provider, store or SDK that does I/O.
"""

from ._blueprint import blueprint

__all__ = ["blueprint"]
