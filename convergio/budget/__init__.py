"""Run budgets that are enforced: reservations before work, settlement after.

Pure and deterministic, so an orchestrator can hold the ledger in memory and
rebuild it on replay.
"""

from ._ledger import Grant, RunLedger

__all__ = ["Grant", "RunLedger"]
