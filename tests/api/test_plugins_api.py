"""``/api/v1/plugins`` on the real app: upload, validation, grants, tenant scope, and plugin tools in runs."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from convergio.metering import SqliteLedger
from convergio.plugins import MAX_ARCHIVE_BYTES
from tests._helpers import HostProcess
from tests.api.conftest import Api, agent, graph, new_key
from tests.plugins._wat import SPIN, module, write_plugin

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "examples"
TENANT = "plugin-school"


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


def upload(api: Api, archive: bytes, content_type: str = "application/zip") -> httpx.Response:
    return api.http.post("/plugins", content=archive, headers={"content-type": content_type})


def error_of(answer: httpx.Response) -> dict[str, Any]:
    return dict(answer.json()["error"])


@pytest.fixture(scope="module")
def school(api_host: HostProcess, api_home: Path) -> Iterator[Api]:
    with Api(api_host.base_url, new_key(api_home, "Plugin School")) as api:
        yield api


def test_upload_list_grant_delete(school: Api, globex: Api) -> None:
    created = upload(school, zipped(EXAMPLES / "kv-notes"))
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["name"] == "kv-notes" and view["version"] == "1.0.0"
    assert [t["name"] for t in view["tools"]] == ["kv-notes.put", "kv-notes.get"]
    assert view["requested"] == {"log": {}, "kv": {}, "http": None, "llm": None}
    assert view["granted"] == {"log": None, "kv": None, "http": None, "llm": None}
    assert upload(school, zipped(EXAMPLES / "kv-notes")).status_code == 200  # replaced

    listed = school.http.get("/plugins").json()["plugins"]
    assert [p["name"] for p in listed] == ["kv-notes"]
    assert globex.http.get("/plugins").json() == {"plugins": []}

    granted = school.http.put("/plugins/kv-notes/grants", json={"capabilities": {"kv": {}}})
    assert granted.status_code == 200, granted.text
    assert granted.json()["granted"]["kv"] == {} and granted.json()["granted"]["log"] is None

    too_much = school.http.put(
        "/plugins/kv-notes/grants", json={"capabilities": {"http": {"hosts": ["a.org"]}}}
    )
    assert too_much.status_code == 422
    assert error_of(too_much)["details"] == [
        {"path": "capabilities.http", "message": "'http' is not requested by the plugin"}
    ]
    unknown = school.http.put("/plugins/kv-notes/grants", json={"capabilities": {"disk": {}}})
    assert unknown.status_code == 400 and error_of(unknown)["details"][0]["path"] == "capabilities.disk"
    assert globex.http.put("/plugins/kv-notes/grants", json={"capabilities": {}}).status_code == 404
    assert globex.http.delete("/plugins/kv-notes").status_code == 404

    assert school.http.delete("/plugins/kv-notes").json() == {"name": "kv-notes", "deleted": True}
    assert school.http.delete("/plugins/kv-notes").status_code == 404
    assert school.http.get("/plugins").json() == {"plugins": []}


def test_uploads_are_validated_naming_what_is_wrong(school: Api, tmp_path: Path) -> None:
    archive = zipped(EXAMPLES / "text-stats")
    wrong_type = upload(school, archive, "application/json")
    assert wrong_type.status_code == 400 and error_of(wrong_type)["details"][0]["path"] == "content-type"

    not_zip = upload(school, b"PK but not really")
    assert not_zip.status_code == 422 and "not a zip archive" in error_of(not_zip)["message"]

    manifest = json.loads((EXAMPLES / "text-stats" / "plugin.json").read_text(encoding="utf-8"))
    for change, path in (({"version": "one"}, "version"), ({"name": "mcp"}, "name")):
        folder = tmp_path / f"bad-{path}"
        folder.mkdir()
        (folder / "plugin.json").write_text(json.dumps(manifest | change), encoding="utf-8")
        (folder / "text_stats.wat").write_bytes((EXAMPLES / "text-stats" / "text_stats.wat").read_bytes())
        refused = upload(school, zipped(folder))
        assert refused.status_code == 422, refused.text
        assert error_of(refused)["code"] == "invalid_manifest"
        assert error_of(refused)["details"][0]["path"] == path

    broken = write_plugin(tmp_path / "src", "broken", "(module (func $f (result i32) i64.const 1))")
    refused = upload(school, zipped(broken))
    assert refused.status_code == 422 and error_of(refused)["code"] in {"invalid_module"}

    wasi = module(
        "    i64.const 0",
        imports='(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))',
    )
    refused = upload(school, zipped(write_plugin(tmp_path / "src", "sneaky", wasi)))
    assert refused.status_code == 422
    assert error_of(refused)["code"] == "ungranted_import"
    assert error_of(refused)["import"] == "wasi_snapshot_preview1.fd_write"

    huge = upload(school, b"\0" * (MAX_ARCHIVE_BYTES + 1))
    assert huge.status_code == 413 and error_of(huge)["code"] == "payload_too_large"
    assert school.http.get("/plugins").json() == {"plugins": []}  # nothing half-installed


def test_a_plugin_tool_runs_in_a_graph_limited_and_metered(school: Api, globex: Api, api_home: Path) -> None:
    spec = graph(agent("measure", "Measure: {{ input }}", tools=["text-stats.stats"]), output="measure")
    before = school.http.post("/runs", json={"graph": spec, "input": "x"})
    assert before.status_code == 422 and "text-stats.stats" in before.text  # not installed yet

    assert upload(school, zipped(EXAMPLES / "text-stats")).status_code == 201
    assert school.http.put("/plugins/text-stats/grants", json={"capabilities": {}}).status_code == 200
    run_id = school.start(spec, "Plugins are tools. They run in a sandbox.")
    run = school.wait(run_id)
    assert run["status"] == "Completed", run
    # The offline model passes the agent's prompt as the text: the plugin really measured it.
    prompt = "Measure: Plugins are tools. They run in a sandbox."
    counted = {"chars": len(prompt), "words": len(prompt.split()), "lines": 1}
    assert f"text-stats_stats returned {json.dumps(counted)}" in run["output"]
    assert run["nodes"]["measure"]["usage"]["tool_calls"] == 1 and run["usage"]["tool_calls"] == 1
    ledger = SqliteLedger(api_home / "usage.sqlite3")
    try:
        metered = [r for r in ledger.query(TENANT, run_id=run_id) if r.unit == "tool_calls"]
    finally:
        ledger.close()
    assert sum(r.quantity for r in metered) == 1

    limited = graph(
        agent("measure", "Measure: {{ input }}", tools=["text-stats.stats"], budget={"max_tool_calls": 0}),
        output="measure",
    )
    run = school.wait(school.start(limited, "x"))
    assert run["status"] == "Failed" and run["nodes"]["measure"]["status"] == "tool_limit", run

    foreign = globex.http.post("/runs", json={"graph": spec, "input": "x"})
    assert foreign.status_code == 422  # another tenant's plugin is not a tool of globex


def test_a_hostile_plugin_fails_its_tool_call_and_the_host_keeps_serving(school: Api, tmp_path: Path) -> None:
    spin = write_plugin(tmp_path / "src", "spin", SPIN, limits={"fuel": 5_000_000})
    assert upload(school, zipped(spin)).status_code == 201
    spec = graph(agent("victim", "Spin on {{ input }}", tools=["spin.run"]), output="victim")
    run = school.wait(school.start(spec, "x"))
    assert run["status"] == "Completed", run
    assert "spin_run returned error: spin.run: plugin 'spin' ran out of fuel (5000000 units)" in run["output"]
    assert run["usage"]["tool_calls"] == 1
    assert school.http.get("/plugins").status_code == 200
    again = school.wait(school.start(graph(agent("after")), "still serving"))
    assert again["status"] == "Completed"
