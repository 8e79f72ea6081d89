"""Activity functions: where the I/O happens. Thin: unpack, call the core, return JSON."""

from ._blueprint import blueprint

__all__ = ["blueprint"]
