"""What a student may do (ADR 0022): see and start only shared graphs, by name; read only their own runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, school_of

SHARED, UNSHARED = "lesson-plan", "quiz-builder"


@pytest.fixture(scope="module")
def school(api_host: HostProcess, api_home: Path) -> Iterator[dict[str, Api]]:
    """An admin (the CLI's key), a teacher and two students of one tenant, each with their own key."""
    people = school_of(api_host, api_home, "Students School")
    yield people
    for api in people.values():
        api.http.close()


def names(api: Api) -> list[str]:
    answer = api.http.get("/graphs")
    assert answer.status_code == 200, answer.text
    return [g["name"] for g in answer.json()["graphs"]]


def test_a_student_sees_and_starts_only_the_graphs_a_teacher_shared(school: dict[str, Api]) -> None:
    teacher, ann = school["teacher"], school["ann"]
    assert names(ann) == []
    assert {SHARED, UNSHARED} <= set(names(teacher))  # a teacher sees the whole library
    shared = teacher.http.put(f"/graphs/{SHARED}/share")
    assert shared.status_code == 200 and shared.json() == {"graph": SHARED, "shared": True}
    assert names(ann) == [SHARED]
    listing = {g["name"]: g["shared"] for g in teacher.http.get("/graphs").json()["graphs"]}
    assert listing[SHARED] is True and listing[UNSHARED] is False
    assert ann.http.get(f"/graphs/{SHARED}").status_code == 200
    assert ann.http.get(f"/graphs/{UNSHARED}").status_code == 404  # as if it did not exist
    refused = ann.http.put(f"/graphs/{UNSHARED}/share")
    assert refused.status_code == 403 and "the student role may not" in refused.json()["error"]["message"]
    assert teacher.http.put("/graphs/no-such-graph/share").status_code == 404

    inline = ann.http.post("/runs", json={"graph": graph(agent("a")), "input": "x"})
    assert inline.status_code == 403, inline.text
    assert (
        inline.json()["error"]["code"] == "forbidden"
        and inline.json()["error"]["details"][0]["path"] == "graph"
    )
    unshared = ann.http.post("/runs", json={"graph_ref": UNSHARED, "input": {"topic": "volcanoes"}})
    assert unshared.status_code == 403 and unshared.json()["error"]["details"][0]["path"] == "graph_ref"
    assert ann.start(graph_ref=SHARED, run_input={"topic": "fractions", "grade": 4})

    assert teacher.http.delete(f"/graphs/{SHARED}/share").json() == {"graph": SHARED, "shared": False}
    assert names(ann) == []
    again = ann.http.post("/runs", json={"graph_ref": SHARED, "input": {"topic": "fractions", "grade": 4}})
    assert again.status_code == 403
    assert teacher.http.put(f"/graphs/{SHARED}/share").status_code == 200  # for the next test


def test_a_student_reads_only_their_own_runs(school: dict[str, Api]) -> None:
    teacher, ann, ben = school["teacher"], school["ann"], school["ben"]
    assert teacher.http.put(f"/graphs/{SHARED}/share").status_code == 200
    anns = ann.start(graph_ref=SHARED, run_input={"topic": "fractions", "grade": 4})
    bens = ben.start(graph_ref=SHARED, run_input={"topic": "decimals", "grade": 5})
    teachers = teacher.start(graph=graph(agent("a")), run_input="x")

    def listed(api: Api) -> set[str]:
        answer = api.http.get("/runs", params={"limit": 200})
        assert answer.status_code == 200, answer.text
        return {r["id"] for r in answer.json()["runs"]}

    assert anns in listed(ann) and not {bens, teachers} & listed(ann)
    assert listed(ben) == {bens}
    assert {anns, bens, teachers} <= listed(teacher)  # a teacher reads every run of the tenant
    assert ann.run(anns)["id"] == anns
    for path in (f"/runs/{bens}", f"/runs/{teachers}", f"/runs/{bens}/graph"):
        other = ann.http.get(path)
        assert other.status_code == 404, (path, other.text)  # as a foreign run is
    assert teacher.run(bens)["id"] == bens
    cancel = ann.http.post(f"/runs/{anns}/cancel")  # reading is not cancelling
    assert (
        cancel.status_code == 403
        and "the student role may not cancel runs" in cancel.json()["error"]["message"]
    )
