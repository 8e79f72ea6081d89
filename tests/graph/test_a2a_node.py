"""Nodes of ``kind: a2a`` in the run state machine: send once, then poll on durable timers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from convergio.errors import InvalidGraph
from convergio.graph import Catalog, Command, GraphRun, parse_graph
from tests.graph._sim import T0

REMOTE = {
    "id": "remote",
    "kind": "a2a",
    "url": "https://agents.example/api/a2a/helper",
    "prompt": "help with {{ input }}",
    "options": {"poll_seconds": 1},
    "budget": {"max_seconds": 10},
}
AFTER = {"id": "after", "prompt": "use {{ outputs.remote }}", "depends_on": ["remote"]}


def start(**remote: Any) -> tuple[GraphRun, list[Command]]:
    spec = {"name": "g", "agents": [{**REMOTE, **remote}, AFTER]}
    run = GraphRun({"graph": spec, "input": "fractions", "run_id": "r1", "tenant": "acme"}, T0)
    return run, run.take_commands()


def fire(command: Command) -> datetime:
    assert command.fire_at is not None
    return command.fire_at


def only(commands: list[Command], kind: str, name: str = "") -> Command:
    found = [c for c in commands if c.kind == kind and (not name or c.name == name)]
    assert len(found) == 1, commands
    return found[0]


def test_a_pending_remote_task_is_polled_on_doubling_timers_then_its_answer_flows_on() -> None:
    run, commands = start()
    send = only(commands, "activity", "a2a_send")
    assert send.input["prompt"] == "help with {{ input }}" and send.input["input"] == "fractions"
    assert send.input["url"] == REMOTE["url"] and "task_id" not in send.input
    run.complete(send.token, ok=True, value={"status": "pending", "task_id": "task-7"}, now=T0)
    timer = only(run.take_commands(), "timer")
    assert timer.fire_at == T0 + timedelta(seconds=1)
    run.complete(timer.token, ok=True, value=None, now=fire(timer))
    poll = only(run.take_commands(), "activity", "a2a_poll")
    assert poll.input["task_id"] == "task-7" and "prompt" not in poll.input
    run.complete(poll.token, ok=True, value={"status": "pending", "task_id": "task-7"}, now=fire(timer))
    second = only(run.take_commands(), "timer")
    assert fire(second) == fire(timer) + timedelta(seconds=2)
    run.complete(second.token, ok=True, value=None, now=fire(second))
    poll = only(run.take_commands(), "activity", "a2a_poll")
    run.complete(
        poll.token, ok=True, value={"status": "completed", "output": "3/4", "usage": {}}, now=fire(second)
    )
    after = only(run.take_commands(), "activity", "run_agent")
    assert after.input["outputs"] == {"remote": "3/4"}
    assert run.status()["nodes"]["remote"]["status"] == "completed"
    assert run.status()["nodes"]["remote"]["attempts"] == 1


def test_a_failed_poll_is_retried_as_a_poll_of_the_same_task_never_a_new_send() -> None:
    run, commands = start(retry={"attempts": 2})
    send = only(commands, "activity", "a2a_send")
    run.complete(send.token, ok=True, value={"status": "pending", "task_id": "task-7"}, now=T0)
    timer = only(run.take_commands(), "timer")
    run.complete(timer.token, ok=True, value=None, now=fire(timer))
    poll = only(run.take_commands(), "activity", "a2a_poll")
    run.complete(poll.token, ok=False, value="ConnectionError: A2A agent unreachable", now=fire(timer))
    retry = only(run.take_commands(), "activity")
    assert (retry.name, retry.input["task_id"]) == ("a2a_poll", "task-7")
    run.complete(retry.token, ok=False, value="ConnectionError: still down", now=fire(timer))
    assert run.status()["nodes"]["remote"]["status"] == "failed"
    assert run.finished


def test_the_node_budget_ends_the_wait_and_drops_the_pending_timer() -> None:
    run, commands = start(budget={"max_seconds": 3})
    deadline = only(commands, "timer")
    send = only(commands, "activity", "a2a_send")
    run.complete(send.token, ok=True, value={"status": "pending", "task_id": "task-7"}, now=T0)
    poll_timer = only(run.take_commands(), "timer")
    run.complete(deadline.token, ok=True, value=None, now=fire(deadline))
    assert run.status()["nodes"]["remote"]["status"] == "timed_out"
    assert poll_timer.token in run.take_dropped()


def test_a_remote_failure_fails_the_node_with_its_reason() -> None:
    run, commands = start()
    send = only(commands, "activity", "a2a_send")
    run.complete(
        send.token, ok=True, value={"status": "failed", "error": "the remote task ended rejected"}, now=T0
    )
    node = run.status()["nodes"]["remote"]
    assert (node["status"], node["error"]) == ("failed", "the remote task ended rejected")


def test_validation_accepts_a_good_node_and_names_each_bad_field() -> None:
    catalog = Catalog(providers=frozenset({"offline", "helper-key"}), tools=frozenset({"calculator"}))
    good = {"name": "g", "agents": [{**REMOTE, "connection": "helper-key"}]}
    assert parse_graph(good, catalog).agents[0].connection == "helper-key"
    bad = {
        "name": "g",
        "agents": [
            {
                **REMOTE,
                "url": "https://user:pw@agents.example/a",
                "connection": "offline",
                "options": {"x": 1},
            },
            {"id": "b", "prompt": "p", "url": "https://agents.example/b"},
            {"id": "c", "kind": "a2a", "prompt": "p", "tools": ["calculator"]},
        ],
    }
    with pytest.raises(InvalidGraph) as caught:
        parse_graph(bad, catalog)
    paths = {p["path"] for p in caught.value.details}
    assert {
        "agents[0].url",
        "agents[0].connection",
        "agents[0].options.x",
        "agents[1].kind",
        "agents[2].url",
        "agents[2].kind",
    } <= paths
