"""Rewind, as Microsoft's RewindOrchestration e2e app exercises it: an activity fails until the
test "fixes" it (a file appears), and every activity run is tallied, so a test can check that a
rewind runs the failed activity again and the successful ones only once."""

import os
import time

import azure.durable_functions as df

bp = df.Blueprint()


def _tally(folder: str, name: str) -> None:
    with open(os.path.join(folder, "tally.log"), "a", encoding="utf-8") as log:
        log.write(name + "\n")


@bp.activity_trigger(input_name="job", activity="Tally")
def tally(job: dict) -> str:
    _tally(job["dir"], job["name"])
    return job["name"]


@bp.activity_trigger(input_name="job", activity="FixedYet")
def fixed_yet(job: dict) -> str:
    # In a fan-out, fail only after the other branches had time to end: the SDK's task_all fails
    # at the first failure, and a branch still running then would rightly run again on rewind.
    time.sleep(job.get("delay", 0))
    _tally(job["dir"], "fixed_yet")
    if not os.path.exists(os.path.join(job["dir"], "fixed")):
        raise ValueError("not fixed yet")
    return "fixed"


@bp.orchestration_trigger(context_name="context", orchestration="RewindChain")
def rewind_chain(context: df.DurableOrchestrationContext):
    folder = context.get_input()["dir"]
    first = yield context.call_activity("Tally", {"dir": folder, "name": "first"})
    fixed = yield context.call_activity("FixedYet", {"dir": folder})
    last = yield context.call_activity("Tally", {"dir": folder, "name": "last"})
    return [first, fixed, last]


@bp.orchestration_trigger(context_name="context", orchestration="RewindFanOut")
def rewind_fan_out(context: df.DurableOrchestrationContext):
    folder = context.get_input()["dir"]
    results = yield context.task_all(
        [
            context.call_activity("Tally", {"dir": folder, "name": "left"}),
            context.call_activity("FixedYet", {"dir": folder, "delay": 1.0}),
            context.call_activity("Tally", {"dir": folder, "name": "right"}),
        ]
    )
    return results


@bp.orchestration_trigger(context_name="context", orchestration="RewindCaught")
def rewind_caught(context: df.DurableOrchestrationContext):
    folder = context.get_input()["dir"]
    try:
        fixed = yield context.call_activity("FixedYet", {"dir": folder})
    except Exception:
        yield context.call_activity("Tally", {"dir": folder, "name": "cleanup"})
        raise
    return fixed


@bp.orchestration_trigger(context_name="context", orchestration="RewindWithRetry")
def rewind_with_retry(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=2)
    return (yield context.call_activity_with_retry("FixedYet", retry, {"dir": context.get_input()["dir"]}))
