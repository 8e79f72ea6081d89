"""The education graphs end to end on the embedded host, with the pack installed by the CLI.

What a provider received is read two ways: the offline provider's requests from the host's
telemetry (console exporter with prompt capture: every message of every provider call), and an
OpenAI-compatible server on loopback that records the request bodies it is sent.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from convergio.api import load_graph_file
from convergio.tenants import open_tenant_store
from tests._helpers import ROOT, HostProcess
from tests.api.conftest import Api
from tests.education.conftest import EDUCATION, PLUGINS
from tests.providers._servers import FakeAPI, LoopbackServer, chat_completion, json_reply

GRAPHS = ROOT / "examples" / "graphs" / "education"
STUDENT = {
    "student": "Maria Rossi",
    "question": "Hi, I'm Maria Rossi (maria.rossi@example.com, +39 333 123 4567). Why is the sky blue?",
}
PERSONAL = re.compile(r"Maria|Rossi|maria\.rossi@example\.com|333 123 4567|Luca|Bianchi|\bAna\b|ana@|7946")


class School:
    """A tenant with the education pack installed, on a running host that prints its spans."""

    def __init__(self, host: HostProcess, api: Api) -> None:
        self.host, self.api = host, api

    def run(self, graph: str | dict[str, Any], run_input: Any) -> dict[str, Any]:
        spec = load_graph_file(GRAPHS / f"{graph}.yaml") if isinstance(graph, str) else graph
        return self.api.wait(self.api.start(spec, run_input), timeout=60)

    def prompts(self, run_id: str) -> dict[str, list[str]]:
        """Every message each node's provider calls carried, from the captured spans."""
        seen: dict[str, list[str]] = {}
        for span in _spans(self.host.lines):
            attributes = span.get("attributes", {})
            if attributes.get("convergio.run_id") != run_id or "gen_ai.system" not in attributes:
                continue
            messages = [e["attributes"]["content"] for e in span["events"] if e["name"].endswith(".message")]
            seen.setdefault(attributes["convergio.node"], []).extend(messages)
        return seen


def _spans(lines: list[str]) -> Iterator[dict[str, Any]]:
    """The console exporter's spans: JSON objects opening and closing at column 0."""
    block: list[str] | None = None
    for line in list(lines):
        if line == "{":
            block = [line]
        elif block is not None:
            block.append(line)
            if line == "}":
                yield json.loads("\n".join(block))
                block = None


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Iterator[School]:
    home = tmp_path_factory.mktemp("school-home")
    tenant, key = open_tenant_store(home).add_tenant("Rome Primary School")
    for name in PLUGINS:  # as a school's IT admin would, with the command line
        install = ["plugins", "install", str(EDUCATION / name), "--tenant", tenant.id, "--home", str(home)]
        done = subprocess.run(
            [sys.executable, "-m", "convergio", *install],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        assert f"installed {name} 1.0.0" in done.stdout
    env = {
        "CONVERGIO_TELEMETRY_CONSOLE": "true",
        "CONVERGIO_CAPTURE_PROMPTS": "true",
        "CONVERGIO_GRAPHS_DIR": str(GRAPHS),
    }
    with HostProcess(ROOT / "function_app.py", home, env=env) as host, Api(host.base_url, key) as api:
        yield School(host, api)


def _no_personal_data(texts: list[str]) -> None:
    leaks = [text for text in texts if PERSONAL.search(text)]
    assert leaks == []


def test_the_tutor_runs_offline_and_the_provider_only_ever_sees_redacted_text(school: School) -> None:
    run = school.run(
        "edu-tutor", {"age": 9, "topic": "why the sky is blue", "accessibility": {"dyslexia": True}} | STUDENT
    )
    assert run["status"] == "Completed", run
    prompts = school.prompts(run["id"])
    assert set(prompts) == {"tutor", "adapt"}
    tutor = "\n".join(prompts["tutor"])
    assert "Student: [NAME]\nAge: 9" in tutor
    assert "Hi, I'm [NAME] ([EMAIL], [PHONE]). Why is the sky blue?" in tutor
    assert any("edu-format_format" in text or "preset" in text for text in prompts["adapt"])
    _no_personal_data([text for texts in prompts.values() for text in texts])
    # The answer: the simulator echoed what it saw, the formatter ran, and nothing personal came out.
    assert "edu-format_format returned" in run["output"]
    _no_personal_data([run["output"], *run["outputs"].values(), json.dumps(run)])


def test_the_quiz_supervisor_delegates_and_its_grader_calls_the_grade_tool(school: School) -> None:
    answers = {"q1": "Paris", "q2": "ana@example.com says 4"}
    run = school.run("edu-quiz", {"topic": "capitals", "age": 10, "student": "Ana Lima", "answers": answers})
    assert run["status"] == "Completed", run
    prompts = school.prompts(run["id"])
    assert {"quizmaster", "question_writer", "grader"} <= set(prompts)
    assert any("Student: [NAME]" in text and "[EMAIL]" in text for text in prompts["quizmaster"])
    assert any('"score"' in text for text in prompts["grader"])  # the grade tool's answer reached it
    _no_personal_data([text for texts in prompts.values() for text in texts] + [json.dumps(run)])


def test_the_lesson_planner_redacts_the_roster_wherever_the_notes_mention_it(school: School) -> None:
    lesson = {
        "topic": "fractions",
        "grade": 4,
        "students": ["Luca Bianchi", "Ana"],
        "notes": "Luca needs extra time; ana loves drawing. Call Luca's dad on 020 7946 0958.",
        "accessibility": ["dyslexia"],
    }
    run = school.run("edu-lesson", lesson)
    assert run["status"] == "Completed", run
    planner = "\n".join(school.prompts(run["id"])["planner"])
    assert "Class roster (names are private): [NAME] \n" in planner  # adjacent names merge into one
    assert (
        "Teacher's notes: [NAME] needs extra time; [NAME] loves drawing. Call [NAME]'s dad on [PHONE]."
        in planner
    )
    _no_personal_data([planner, json.dumps(run)])
    assert len(run["nodes"]) == 6 and "edu-format_format returned" in run["output"]  # the handout tool ran


def test_an_answer_that_is_not_age_appropriate_fails_the_run_with_the_reason(school: School) -> None:
    run = school.run("edu-tutor", {"age": 12, "topic": "pirates", "question": "why do pirates say shit?"})
    assert run["status"] == "Failed"
    error = run["nodes"]["tutor"]["error"]
    assert error.startswith("blocked by guard edu-safety.review (output): not age-appropriate for students")
    assert (run["output"] is None and "adapt" not in run["nodes"]) or run["nodes"]["adapt"][
        "status"
    ] != "completed"


def test_a_real_provider_api_receives_no_personal_data(school: School) -> None:
    """The same graph on a tenant's own OpenAI-compatible connection: the request bodies are the proof."""
    fake = FakeAPI()
    with LoopbackServer(fake.app) as server:
        fake.url = server.url
        created = school.api.http.put(
            "/tenants/me/connections/school-llm",
            json={
                "kind": "openai-compatible",
                "endpoint": f"{fake.url}/ollama/v1",
                "model": "llama3",
                "key": "sk-x",
            },
        )
        assert created.status_code == 201, created.text
        graph = load_graph_file(GRAPHS / "edu-tutor.yaml")
        for agent in graph["agents"]:
            agent["provider"] = "school-llm"
        fake.queue(
            json_reply(
                chat_completion("1. Sunlight scatters. Ask your teacher on 020 7946 0958.", usage=(90, 12))
            ),
            json_reply(chat_completion("1. Sunlight scatters.\n2. Blue scatters most.", usage=(120, 10))),
        )
        run = school.run(graph, {"age": 9, "topic": "the sky"} | STUDENT)
    assert run["status"] == "Completed", run
    bodies = [json.dumps(seen.body["messages"]) for seen in fake.seen]
    assert len(bodies) == 2
    assert "Student: [NAME]" in bodies[0] and "[EMAIL], [PHONE]" in bodies[0]
    _no_personal_data(bodies)
    # The model's own answer was checked on its way out: its phone number never reached the next agent.
    assert run["outputs"]["tutor"] == "1. Sunlight scatters. Ask your teacher on [PHONE]."
    assert "[PHONE]" in bodies[1]


def test_the_library_offers_the_graphs_to_the_school_with_the_pack_and_says_what_others_lack(
    school: School,
) -> None:
    listed = {g["name"]: g for g in school.api.http.get("/graphs").json()["graphs"]}
    assert {"edu-tutor", "edu-quiz", "edu-lesson"} <= set(listed)
    assert all(g["available"] and g["problems"] == [] for g in listed.values())
    by_name = school.api.start(
        None, {"age": 8, "topic": "rain", "student": "Tom", "question": "Why?"}, graph_ref="edu-tutor"
    )
    assert school.api.wait(by_name, timeout=60)["status"] == "Completed"

    _, other_key = open_tenant_store(school.host.home).add_tenant("No Pack School")
    with Api(school.host.base_url, other_key) as other:
        answer = other.http.get("/graphs")
        started = other.http.post("/runs", json={"graph_ref": "edu-tutor", "input": {}})
    assert answer.status_code == 200
    tutor = {g["name"]: g for g in answer.json()["graphs"]}["edu-tutor"]
    assert tutor["available"] is False and tutor["agents"] == 2
    assert any("edu-safety.review" in p["message"] for p in tutor["problems"])
    assert started.status_code == 422 and "edu-safety.review" in started.text
