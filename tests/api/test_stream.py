"""``GET /api/v1/runs/{id}/stream``: node changes and an agent's streamed text, read to the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests._helpers import HostProcess
from tests.api.conftest import APP, Api, agent, graph, new_key
from tests.providers._servers import FakeAPI, chat_stream, sse_reply


def read_events(
    api: Api, run_id: str, headers: dict[str, str] | None = None, on_event: Any = None
) -> list[dict[str, Any]]:
    """Read the stream to its end; ``on_event`` sees each event as it arrives."""
    events: list[dict[str, Any]] = []
    with api.http.stream("GET", f"/runs/{run_id}/stream", headers=headers or {}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in answer.iter_lines():
            if line.startswith(":"):
                continue
            if not line:
                if current:
                    events.append(current)
                    if on_event:
                        on_event(current)
                current = {}
                continue
            field, _, value = line.partition(": ")
            current[field] = json.loads(value) if field == "data" else value
    return events


def test_a_stream_carries_node_changes_and_streamed_text_to_the_end(
    api_host: HostProcess, api_home: Path, fake_llm: FakeAPI
) -> None:
    fake_llm.reset()
    fake_llm.queue(sse_reply(chat_stream(["Lava ", "flows ", "slowly."]), pause_s=0.05))
    with Api(api_host.base_url, new_key(api_home, "Stream School")) as api:
        body = {
            "kind": "openai-compatible",
            "endpoint": f"{fake_llm.url}/ollama/v1",
            "model": "m",
            "key": "k" * 12,
        }
        assert api.http.put("/tenants/me/connections/llm", json=body).status_code == 201
        spec = graph(
            agent("first", "note {{ input }}"),
            agent(
                "writer",
                "write about {{ input }}",
                provider="llm",
                depends_on=["first"],
                await_event={"name": "go", "timeout_seconds": 60},
            ),
        )
        run_id = api.start(spec, "lava")

        def release(event: dict[str, Any]) -> None:  # the stream is watching: let the writer run
            data = event.get("data", {})
            if event["event"] == "node" and data["node"] == "writer" and data["status"] == "awaiting_input":
                assert api.http.post(f"/runs/{run_id}/events/go", json={}).status_code == 202

        events = read_events(api, run_id, on_event=release)
        last_text = [e["id"] for e in events if e["event"] == "text"][-1]
        again = read_events(api, run_id, headers={"Last-Event-ID": last_text})
        with Api(api_host.base_url, new_key(api_home, "Stream Outsider")) as other:
            foreign = other.http.get(f"/runs/{run_id}/stream")
    writer = [e["data"]["status"] for e in events if e["event"] == "node" and e["data"]["node"] == "writer"]
    assert writer[-3:] == ["awaiting_input", "running", "completed"], writer
    texts = [e for e in events if e["event"] == "text"]
    # "first" (the offline provider) answers whole: its answer is its output, not text (ADR 0055)
    assert {e["data"]["node"] for e in texts} == {"writer"}
    assert "".join(e["data"]["delta"] for e in texts if e["data"]["node"] == "writer") == "Lava flows slowly."
    ids = [int(e["id"]) for e in texts]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert events[-1]["event"] == "run" and events[-1]["data"]["status"] == "Completed"
    # Resuming after the last text event replays node snapshots, but no text already seen.
    assert [e for e in again if e["event"] == "text"] == []
    assert again[-1]["event"] == "run"
    assert foreign.status_code == 404


def test_without_http_streaming_the_stream_is_served_in_windows_that_resume(tmp_path: Path) -> None:
    with (
        HostProcess(APP, tmp_path, env={"CONVERGIO_HTTP_STREAMING": "false"}) as host,
        Api(host.base_url, new_key(tmp_path, "Window School")) as api,
    ):
        run_id = api.start(graph(agent("a", "say {{ input }}")), "hi")
        api.wait(run_id)
        answer = api.http.get(f"/runs/{run_id}/stream")
        bad = api.http.get(f"/runs/{run_id}/stream", headers={"Last-Event-ID": "x"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    assert "event: node" in answer.text and answer.text.rstrip().splitlines()[-1].startswith("data: ")
    assert '"status":"Completed"' in answer.text.split("event: run")[1]
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]["message"]


def test_a_watched_call_says_when_it_began_and_an_unwatched_run_writes_nothing(
    acme: Api, api_home: Path
) -> None:
    """The run page tells "queued" (asked for, no worker yet) from "running" by the ``began`` event."""
    from convergio.streams import STORE_FILE, SqliteRunStream

    spec = graph(agent("slow", options={"latency_ms": 800}), agent("next", depends_on=["slow"]))
    unwatched = acme.start(spec, "x")
    assert acme.wait(unwatched)["status"] == "Completed"
    watched = acme.start(spec, "x")
    events = read_events(acme, watched)
    channel = SqliteRunStream(api_home / STORE_FILE)
    try:
        assert channel.read(unwatched) == []  # nobody watched: not one write
        kinds = [e.kind for e in channel.read(watched)]  # the same file holds the other's
        assert "began" in kinds and "text" not in kinds  # the offline provider answers whole
    finally:
        channel.close()
    began = [e for e in events if e.get("event") == "began"]
    assert [e["data"]["node"] for e in began][-1:] == ["next"]  # "slow" may begin before the watch
    assert all(set(e["data"]) == {"node", "attempt", "step", "at"} and "id" in e for e in began)
    running = next(
        i for i, e in enumerate(events) if e.get("event") == "node" and e["data"]["node"] == "next"
    )
    done = next(
        i
        for i, e in enumerate(events)
        if e.get("event") == "node" and e["data"]["node"] == "next" and e["data"]["status"] == "completed"
    )
    assert running < done and events[-1]["event"] == "run"
    assert began[-1]["data"]["step"] == events[done]["data"]["attempts"] == 1  # how the page pairs them
