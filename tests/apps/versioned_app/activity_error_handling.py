"""Activity failures, as in the e2e app's activity_error_handling.py: what an orchestrator sees
of an activity's exception (the message and the user's frames, not the host's)."""

import logging

import azure.durable_functions as df
from custom_exception_types import InvalidOperationException, OverflowException

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration="RethrowActivityException")
def rethrow_activity_exception(context: df.DurableOrchestrationContext):
    yield context.call_activity("raise_exception", context.instance_id)


@bp.orchestration_trigger(context_name="context", orchestration="CatchActivityException")
def catch_activity_exception(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("raise_exception", context.instance_id)
    except Exception as e:
        logging.error(f"Caught exception: {e}")
        return f"Caught exception: {e}"


@bp.orchestration_trigger(context_name="context", orchestration="CatchComplexActivityException")
def catch_complex_activity_exception(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("raise_complex_exception", context.instance_id)
    except Exception as e:
        return f"Caught exception: {e}"


@bp.orchestration_trigger(context_name="context", orchestration="CatchAsyncActivityException")
def catch_async_activity_exception(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("raise_exception_async", context.instance_id)
    except Exception as e:
        return f"Caught exception: {e}"


@bp.activity_trigger(input_name="instance")
def raise_exception(instance: str) -> str:
    raise InvalidOperationException("This activity failed")


@bp.activity_trigger(input_name="instance2")
def raise_complex_exception(instance2: str) -> str:
    raise InvalidOperationException("This activity failed") from OverflowException(
        "More information about the failure"
    )


@bp.activity_trigger(input_name="instance3")
async def raise_exception_async(instance3: str) -> str:
    raise InvalidOperationException("This async activity failed")
