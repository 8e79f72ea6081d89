"""How the API reads a run's durable status: as little as each reader needs, as Azure answers it.

A view asks for the input and the history only when its fold needs them (``load_status``); a
watcher reads without the input the SDK would otherwise always get (``read_status``); a reader
of progress records reads the history, and its inputs only while a counted record is still
open (``history_records``, ADR 0066). Every read goes through the durable client, on Azure and
the embedded host alike (ADR 0033); the SDK reads a status's two times without ``dateutil``
once the API has installed ``convergio._history_times`` (ADR 0069).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models import DurableOrchestrationStatus
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus as _Status
from azure.durable_functions.models.RpcManagementOptions import RpcManagementOptions

from convergio.graph import records_of

from ._views import complete_table, status_history

__all__ = ["history_records", "load_status", "read_status"]


async def load_status(
    client: df.DurableOrchestrationClient, run_id: str, *, show_input: bool = False
) -> DurableOrchestrationStatus:
    """The status ``run_view`` needs to show every node, in as few and as small reads as it can.

    A completed run's output has the table: one plain read. Otherwise a second read adds the
    input (the graph: which agents there are), and the history with its outputs only when the
    run has written progress records (larger runs).
    """
    status = await client.get_status(run_id, show_input=show_input)
    if status.runtime_status is None or complete_table(status):
        return status
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    history = bool(custom.get("records"))
    if show_input and not history:
        return status
    return await client.get_status(run_id, show_history=history, show_history_output=history, show_input=True)


_ANSWERED = frozenset({200, 202, 400, 404, 500})
"""The status codes ``DurableOrchestrationClient.get_status`` turns into a status (others raise)."""


async def read_status(
    client: df.DurableOrchestrationClient,
    run_id: str,
    *,
    show_input: bool,
    show_history: bool = False,
    show_history_output: bool = False,
) -> DurableOrchestrationStatus:
    """``client.get_status``, except that ``show_input=False`` leaves the input out.

    The SDK sends ``showInput`` only when true, and the extension's status API (the embedded
    host's too) defaults it to true: every "plain" read carried the run's whole request (a
    100-agent graph is about 45 KB, encoded by the backend and decoded by the SDK, with each
    history event's input when the history is asked for). A read that does not use it asks
    ``showInput=false`` explicitly, through the client's own request function and RPC base URL,
    so Azure's extension and the embedded host answer it alike. A client without them (a test
    double) gets the SDK call.
    """
    bindings = getattr(client, "_orchestration_bindings", None)
    request = getattr(client, "_get_async_request", None)
    base = getattr(bindings, "rpc_base_url", None)
    if show_input or request is None or not base:
        asked = {
            "show_input": show_input,
            "show_history": show_history,
            "show_history_output": show_history_output,
        }
        return await client.get_status(run_id, **{k: v for k, v in asked.items() if v})  # as asked, no more
    options = RpcManagementOptions(
        instance_id=run_id, show_history=show_history, show_history_output=show_history_output
    )
    url = options.to_url(base)
    code, body = await request(url + ("&" if "?" in url else "?") + "showInput=false")
    if code not in _ANSWERED:
        raise Exception(f"The operation failed with an unexpected status code {code}")  # as the SDK does
    return _Status.from_json(body)  # its two times without dateutil: the API installs that (ADR 0069)


async def history_records(
    client: df.DurableOrchestrationClient,
    run_id: str,
    sealed: int,
    have: Collection[int] = (),
    *,
    show_input: bool = False,
) -> tuple[DurableOrchestrationStatus, list[dict[str, Any]]]:
    """The run's status read with its history, and the progress records in that history, for
    a reader that has the records ``have`` (by seq) of the ``sealed`` ones its status counts.

    A record still open when the history was read is only in its scheduling event's input
    (``records_of``), and the tail may not hold all of its items (ADR 0066): when the records
    found and ``have`` still fall short of ``sealed``, the history is read again with the
    inputs (rarely: the echo is quick, and the inputs of a wide run weigh). ``show_input``:
    read them at once (the caller needs the run's input too).
    """
    full = await read_status(
        client, run_id, show_input=show_input, show_history=True, show_history_output=True
    )
    found = records_of(status_history(full))
    if not show_input and len({*have, *(int(r.get("seq") or 0) for r in found)}) < sealed:
        full = await read_status(client, run_id, show_input=True, show_history=True, show_history_output=True)
        found = records_of(status_history(full))
    return full, found
