"""Cancel stops the agents (ADR 0017): no provider call starts after it, calls in flight are aborted
within about a second, what did run is billed to the run and shown on it, and the threads are free."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from convergio.metering import SqliteLedger
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key
from tests.providers._servers import LoopbackServer, chat_completion


@dataclass
class SlowModel:
    """An OpenAI-compatible server: the first ``quick`` calls answer in ``quick_s``, later ones in
    ``slow_s``; it notes when each call arrived and when a client hung up before the answer."""

    quick: int = 20
    quick_s: float = 0.4
    slow_s: float = 8.0
    arrived: list[float] = field(default_factory=list)
    hung_up: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    async def answer(self, request: Request) -> Response:
        await request.body()
        with self.lock:
            self.arrived.append(time.time())
            n = len(self.arrived)
        ends = time.monotonic() + (self.quick_s if n <= self.quick else self.slow_s)
        while time.monotonic() < ends:
            if await request.is_disconnected():
                with self.lock:
                    self.hung_up.append(time.time())
                return Response(status_code=499)
            await asyncio.sleep(0.02)
        return JSONResponse(chat_completion(f"answer {n}", usage=(30, 10)))


@pytest.fixture
def slow_model() -> Iterator[SlowModel]:
    model = SlowModel()
    app = Starlette(routes=[Route("/v1/chat/completions", model.answer, methods=["POST"])])
    with LoopbackServer(app) as server:
        model.url = server.url
        yield model


def test_cancel_stops_queued_and_in_flight_calls_and_bills_what_ran_to_the_run(
    api_host: HostProcess, api_home: Path, slow_model: SlowModel
) -> None:
    with Api(api_host.base_url, new_key(api_home, "Cancel School")) as api:
        connection = {
            "kind": "openai-compatible",
            "endpoint": f"{slow_model.url}/v1",
            "model": "m",
            "key": "sk-x",
        }
        assert api.http.put("/tenants/me/connections/slow", json=connection).status_code == 201
        wide = graph(*[agent(f"a{i:02d}", provider="slow") for i in range(40)], name="wide", output="a00")
        run_id = api.start(wide, "go")
        deadline = time.monotonic() + 20
        while len(slow_model.arrived) < 30 and time.monotonic() < deadline:  # 20 quick done, 10+ slow going
            time.sleep(0.02)
        answer = api.http.post(f"/runs/{run_id}/cancel", json={"reason": "enough"})
        assert answer.status_code == 202, answer.text
        acked_at = time.time()  # the cancel is in effect from here (its mark is written)
        # A 2 s run right behind it gets threads at once.
        started = time.monotonic()
        quick = api.start(graph(agent("only", options={"latency_ms": 2000}), name="quick"), "next")
        assert api.wait(quick)["status"] == "Completed"
        quick_took = time.monotonic() - started
        time.sleep(1.0)  # every aborted call has reported by now
        run = api.run(run_id)
    # A call that passed its cancel check as the mark was written may still arrive a moment
    # after the answer (and is then aborted): 0.2 s of slack after the 202, on a loaded machine.
    in_flight = [t for t in slow_model.arrived if t <= acked_at + 0.2]  # racing the cancel too
    late = [t - acked_at for t in slow_model.arrived if t > acked_at + 0.2]
    aborted_after = [t - acked_at for t in slow_model.hung_up]
    assert late == [], late  # no provider call started after the cancel
    # Every slow call in flight was aborted (a quick one still answering at the cancel may be too)...
    assert len(in_flight) >= len(aborted_after) >= len(in_flight) - 20 > 0
    assert max(aborted_after) < 1.0, aborted_after  # ...within a second
    assert quick_took < 3.5, quick_took
    assert run["status"] == "Terminated"
    ledger = SqliteLedger(api_home / "usage.sqlite3")
    billed = ledger.query("cancel-school", run_id=run_id)
    ledger.close()
    tokens = sum(int(r.quantity) for r in billed if r.unit in ("input_tokens", "output_tokens"))
    # The calls that answered, as the server counted them; one whose answer was on the wire as
    # the call was aborted is answered for the server but never reached the agent: not billed.
    answered = len(slow_model.arrived) - len(slow_model.hung_up)
    assert tokens % 40 == 0 and answered - 2 <= tokens // 40 <= answered and answered >= 10, (
        tokens,
        answered,
    )
    assert run["usage"]["total_tokens"] == tokens  # the run page shows what was billed
    assert sum(n["usage"]["total_tokens"] for n in run["nodes"].values()) == tokens
    print(
        f"\ncancel: {len(aborted_after)} calls aborted after {max(aborted_after):.2f} s at most, "
        f"0 started later, {tokens} tokens billed and shown; a 2 s run behind it took {quick_took:.2f} s"
    )
