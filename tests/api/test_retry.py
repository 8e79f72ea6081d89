"""POST /runs/{id}/retry: run a finished run again, whole or keeping its finished agents (issue 23.4)."""

from __future__ import annotations

from tests.api.conftest import Api, agent, graph


def gated() -> dict:
    return graph(
        agent("draft", "write about {{ input }}"),
        agent(
            "publish", "publish", depends_on=["draft"], await_event={"name": "approve", "timeout_seconds": 60}
        ),
        name="draft-and-publish",
        output="publish",
    )


def test_retrying_the_failed_agents_keeps_the_finished_ones(acme: Api, globex: Api) -> None:
    first_id = acme.start(gated(), "volcanoes")
    acme.wait_node(first_id, "publish", "awaiting_input")
    rejected = acme.http.post(
        f"/runs/{first_id}/events/approve", json={"approved": False, "comment": "too short"}
    )
    assert rejected.status_code == 202, rejected.text
    first = acme.wait(first_id)
    assert first["status"] == "Failed" and first["nodes"]["draft"]["status"] == "completed"

    retry = acme.http.post(f"/runs/{first_id}/retry", json={"mode": "failed"})
    assert retry.status_code == 202, retry.text
    body = retry.json()
    assert body["retry_of"] == first_id and body["kept"] == ["draft"] and body["id"] != first_id
    assert retry.headers["location"].endswith(f"/runs/{body['id']}")
    acme.wait_node(body["id"], "publish", "awaiting_input")
    assert acme.http.post(f"/runs/{body['id']}/events/approve", json={"approved": True}).status_code == 202
    second = acme.wait(body["id"])
    assert second["status"] == "Completed", second
    draft = second["nodes"]["draft"]
    assert draft["reused"] is True and draft["attempts"] == 0 and draft["usage"]["total_tokens"] == 0
    assert second["outputs"]["draft"]  # kept from the first run: not called, not billed again
    assert second["nodes"]["publish"]["attempts"] == 1 and second["nodes"]["publish"]["reused"] is False

    again = acme.http.post(f"/runs/{first_id}/retry", json={"mode": "all"})
    assert again.status_code == 202 and again.json()["kept"] == []
    whole = acme.wait_node(again.json()["id"], "draft", "completed")
    assert whole["nodes"]["draft"]["reused"] is False and whole["nodes"]["draft"]["attempts"] == 1
    acme.http.post(f"/runs/{again.json()['id']}/cancel", json={})

    # Another tenant's run cannot be retried, a bad mode names the field, a live run is a 409.
    assert globex.http.post(f"/runs/{first_id}/retry", json={}).status_code == 404
    bad = acme.http.post(f"/runs/{first_id}/retry", json={"mode": "some"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["path"] == "mode"
    waiting = acme.start(
        graph(agent("gate", await_event={"name": "go", "timeout_seconds": 60}), output="gate"), 1
    )
    live = acme.http.post(f"/runs/{waiting}/retry", json={})
    assert live.status_code == 409 and "can be retried once it has ended" in live.json()["error"]["message"]
    acme.http.post(f"/runs/{waiting}/cancel", json={})


def test_outputs_are_read_while_a_run_waits_and_after_a_retry_kept_them(acme: Api) -> None:
    first_id = acme.start(gated(), "glaciers")
    acme.wait_node(first_id, "publish", "awaiting_input")
    waiting = acme.http.get(f"/runs/{first_id}/outputs", params={"nodes": "draft,publish"})
    assert waiting.status_code == 200, waiting.text
    draft = waiting.json()["outputs"]
    assert list(draft) == ["draft"] and "glaciers" in draft["draft"]  # the draft to approve, while waiting
    assert acme.run(first_id)["outputs"] == {}  # the polled view does not carry it
    acme.http.post(f"/runs/{first_id}/events/approve", json={"approved": False})
    acme.wait(first_id)
    retried = acme.http.post(f"/runs/{first_id}/retry", json={}).json()["id"]
    acme.wait_node(retried, "publish", "awaiting_input")
    kept = acme.http.get(f"/runs/{retried}/outputs", params={"nodes": "draft"}).json()["outputs"]
    assert kept == draft
    too_many = acme.http.get(
        f"/runs/{retried}/outputs", params={"nodes": ",".join(f"n{i}" for i in range(51))}
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["message"].startswith("nodes:")
    acme.http.post(f"/runs/{retried}/cancel", json={})
