"""The retention orchestration: started once per task hub, and a loop that never ends (ADR 0018)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from convergio.retention import RETENTION, RETENTION_INSTANCE, ensure_retention
from orchestrations.retention import CATCH_UP_S, sweep_forever


class Status:
    def __init__(self, status: str | None) -> None:
        self.runtime_status = None if status is None else OrchestrationRuntimeStatus(status)


class FakeClient:
    """A durable client whose instance may be started by someone else between a look and a start."""

    def __init__(self, status: str | None, *, racing: bool = False) -> None:
        self.status, self.racing, self.started = status, racing, 0

    async def get_status(self, instance_id: str) -> Status:
        assert instance_id == RETENTION_INSTANCE
        return Status(self.status)

    async def start_new(self, name: str, instance_id: str, client_input: Any) -> str:
        assert (name, instance_id) == (RETENTION, RETENTION_INSTANCE)
        if self.racing:  # another process started it first: the host answers 409
            self.status = "Running"
            raise RuntimeError("409 An instance with ID 'convergio-retention' already exists.")
        self.started += 1
        self.status = "Running"
        return instance_id


@pytest.mark.parametrize(
    ("status", "starts"),
    [(None, 1), ("Completed", 1), ("Failed", 1), ("Terminated", 1), ("Running", 0), ("Pending", 0)],
)
def test_it_is_started_only_when_missing_or_ended(status: str | None, starts: int) -> None:
    client = FakeClient(status)
    assert asyncio.run(ensure_retention(client)) is bool(starts)  # type: ignore[arg-type]
    assert client.started == starts
    assert asyncio.run(ensure_retention(client)) is False  # type: ignore[arg-type]
    assert client.started == starts


def test_losing_a_race_to_start_it_is_not_an_error() -> None:
    client = FakeClient(None, racing=True)
    assert asyncio.run(ensure_retention(client)) is False  # type: ignore[arg-type]


class Context:
    """Just enough of the orchestration context to drive the generator step by step."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.current_utc_datetime = datetime(2026, 6, 1, tzinfo=UTC)
        self.custom_status: Any = None
        self.continued: Any = None

    def get_input(self) -> Any:
        return self.state

    def call_activity(self, name: str, payload: Any) -> tuple[str, Any]:
        return ("activity", name, payload)  # type: ignore[return-value]

    def create_timer(self, at: datetime) -> tuple[str, datetime]:
        return ("timer", at)

    def set_custom_status(self, status: Any) -> None:
        self.custom_status = status

    def continue_as_new(self, state: Any) -> None:
        self.continued = state


def drive(context: Context, answers: dict[str, Any]) -> list[Any]:
    """Run one execution; an answer that is an exception fails that activity."""
    steps, loop = [], sweep_forever(context)  # type: ignore[arg-type]
    task = next(loop)
    try:
        while True:
            steps.append(task)
            key = task[1] if task[0] == "activity" else "timer"
            if task[0] == "activity" and task[1] == "retention_sweep":
                key = f"retention_sweep:{task[2]['tenant']}"
            answer = answers.get(key)
            task = loop.throw(answer) if isinstance(answer, Exception) else loop.send(answer)
    except StopIteration:
        return steps


def done(purged: int, *, more: bool = False, days: int = 90) -> dict[str, Any]:
    policy = {"finished_runs_days": days, "stream_events_days": 7}
    return {"runs_purged": purged, "events_dropped": 0, "more": more, "policy": policy}


PLAN = {"tenants": ["a", "b", "c"], "interval_s": 86400, "batch": 500, "defaults": done(0)["policy"]}


def test_one_execution_sweeps_every_tenant_then_sleeps_and_continues_as_new() -> None:
    context = Context({"sweep": 4, "interval_s": 86400})
    answers = {"retention_plan": PLAN, "retention_backstop": {}}
    answers |= {f"retention_sweep:{t}": done(1, days=d) for t, d in zip("abc", (30, 400, 90), strict=True)}
    steps = drive(context, answers)
    assert [s[1] for s in steps[:-1]] == ["retention_plan", *["retention_sweep"] * 3, "retention_backstop"]
    assert steps[-2][2]["finished_runs_days"] == 400  # the backstop keeps what the longest policy keeps
    assert steps[-1] == ("timer", context.current_utc_datetime + timedelta(days=1))
    assert context.continued == {"sweep": 5, "interval_s": 86400}
    assert context.custom_status["runs_purged"] == 3 and context.custom_status["failed"] == 0


def test_a_failing_tenant_is_skipped_the_backstop_waits_and_the_loop_goes_on() -> None:
    context = Context({})
    answers = {"retention_plan": PLAN, "retention_sweep:a": done(2, more=True)}
    answers |= {"retention_sweep:b": RuntimeError("store down"), "retention_sweep:c": done(0)}
    steps = drive(context, answers)
    assert "retention_backstop" not in [s[1] for s in steps if s[0] == "activity"]
    assert steps[-1] == ("timer", context.current_utc_datetime + timedelta(seconds=CATCH_UP_S))  # work left
    assert context.custom_status["failed"] == 1 and context.continued["sweep"] == 1


def test_even_a_failed_plan_ends_in_a_timer_and_a_new_execution() -> None:
    context = Context({"sweep": 1, "interval_s": 600})
    steps = drive(context, {"retention_plan": RuntimeError("no settings")})
    assert steps[-1] == ("timer", context.current_utc_datetime + timedelta(seconds=600))
    assert context.continued == {"sweep": 2, "interval_s": 600}
