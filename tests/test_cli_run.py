"""``python -m convergio run``: a graph file end to end, as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from convergio._progress import elapsed, node_table
from tests._helpers import ROOT

LESSON = ROOT / "examples" / "graphs" / "lesson-plan.yaml"


def convergio(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convergio", *args, "--home", str(home), "--in-process"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )


def test_run_a_graph_file_in_process_and_print_the_usage_table(tmp_path: Path) -> None:
    done = convergio(
        "run", str(LESSON), "--input", json.dumps({"topic": "fractions", "grade": 4}), home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    table = {line.split("│")[1].strip(): line for line in lines if line.count("│") >= 6}
    assert {"planner", "content", "activities", "assessment", "reviewer", "total"} <= set(table)
    assert all(" done " in table[n] for n in ("planner", "content", "activities", "assessment", "reviewer"))
    assert "output" in done.stdout and "fractions" in done.stdout
    # the tokens column adds up to the total line
    tokens = [
        int(table[n].split("│")[5]) for n in ("planner", "content", "activities", "assessment", "reviewer")
    ]
    assert sum(tokens) == int(table["total"].split("│")[5])


def test_a_failed_run_exits_1_and_bad_input_exits_2(tmp_path: Path) -> None:
    graph = tmp_path / "g.json"
    graph.write_text(
        json.dumps({"name": "g", "agents": [{"id": "a", "prompt": "x", "options": {"fail_first_n": 9}}]})
    )
    failed = convergio("run", str(graph), home=tmp_path / "h")
    assert failed.returncode == 1
    assert "unavailable" in failed.stdout
    bad = convergio("run", str(LESSON), "--input", "{not json", home=tmp_path / "h")
    assert bad.returncode == 2 and "--input is not valid JSON" in bad.stderr
    wrong = convergio("run", str(LESSON), "--input", '{"grade": 4}', home=tmp_path / "h")
    assert wrong.returncode == 2 and "input" in wrong.stderr and "topic" in wrong.stderr
    invalid = tmp_path / "bad.yaml"
    invalid.write_text("name: x\nagents:\n  - id: a\n    depends_on: [b]\n    prompt: hi\n")
    rejected = convergio("run", str(invalid), home=tmp_path / "h")
    assert rejected.returncode == 2 and "graph.agents[0].depends_on[0]: unknown agent 'b'" in rejected.stderr


def test_node_table_shows_status_elapsed_and_totals() -> None:
    run = {
        "id": "abc",
        "graph": "g",
        "status": "Running",
        "nodes": {
            "a": {
                "status": "completed",
                "attempts": 1,
                "started_at": "2026-01-01T00:00:00.000Z",
                "finished_at": "2026-01-01T00:00:01.500Z",
                "usage": {"total_tokens": 12, "tool_calls": 1},
            },
            "b": {"status": "waiting", "attempts": 0, "usage": {}},
        },
        "usage": {"total_tokens": 12, "tool_calls": 1},
    }
    assert elapsed(run["nodes"]["a"]) == 1.5 and elapsed(run["nodes"]["b"]) is None
    table = node_table(run)
    assert [c.header for c in table.columns] == [
        "agent",
        "status",
        "attempts",
        "elapsed",
        "tokens",
        "tool calls",
    ]
    cells = [list(c.cells) for c in table.columns]
    assert cells[0] == ["a", "b", "total"]
    assert [str(s) for s in cells[1][:2]] == ["done", "waiting"]
    assert cells[3][:2] == ["1.5 s", ""] and cells[4] == ["12", "0", "12"]
