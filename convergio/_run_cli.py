"""``python -m convergio run GRAPH.yaml``: run a graph on the embedded host and watch it live.

Uses the public HTTP API like any client would. With no host running, it starts
one in-process for the duration of the run, on the same state directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live

from convergio._embedded import embedded_host
from convergio._progress import node_table, run_panel
from convergio.api import load_graph_file
from convergio.settings import Settings, load_settings
from convergio.tenants import TenantStore, tenant_id_for
from convergio.wiring import open_stores

__all__ = ["RunError", "add_run_parser", "run_command"]

_DEFAULT_URL = "http://127.0.0.1:7071"
_FINAL = ("Completed", "Failed", "Terminated")


class RunError(Exception):
    """The run could not be started or followed; the message says why."""


def add_run_parser(commands: Any) -> None:
    run = commands.add_parser("run", help="run a graph file on the embedded host with live progress")
    run.add_argument("graph", type=Path, help="a graph spec (.yaml, .yml or .json)")
    run.add_argument("--input", default=None, help="the run input, as JSON")
    run.add_argument(
        "--tenant", default="local", help="tenant to run as (created if missing; default: local)"
    )
    run.add_argument(
        "--url", default=None, help=f"a running host (default: {_DEFAULT_URL} if up, else in-process)"
    )
    run.add_argument("--in-process", action="store_true", help="always start a host in-process for this run")
    run.add_argument("--app", type=Path, default=Path("function_app.py"), help="the app to host in-process")
    run.add_argument("--home", type=Path, default=None, help="state directory (default: $CONVERGIO_HOME)")
    run.add_argument("--poll", type=float, default=0.2, help="seconds between status polls")


def run_command(args: argparse.Namespace, console: Console | None = None) -> int:
    """Start the run, show it live, print the final table; 0 when it completed."""
    console = console or Console()
    graph = load_graph_file(args.graph)
    try:
        run_input = json.loads(args.input) if args.input is not None else None
    except ValueError as exc:
        raise RunError(f"--input is not valid JSON: {exc}") from None
    settings = load_settings(folder=args.app.resolve().parent)
    home = (args.home or settings.home).resolve()
    store = open_stores(settings, home=home).tenants
    label = f"cli-{uuid.uuid4().hex[:12]}"
    key = _session_key(store, args.tenant, label)
    try:
        with _host(args, settings, home) as base_url:
            return _follow(console, base_url, key, graph, run_input, args.poll)
    finally:
        store.revoke_keys(tenant_id_for(args.tenant), label=label)


def _session_key(store: TenantStore, name: str, label: str) -> str:
    """A key that lives as long as this command (revoked in ``run_command``)."""
    tenant = store.get(tenant_id_for(name))
    if tenant is None:
        tenant, _ = store.add_tenant(name)
        store.revoke_keys(tenant.id)  # nobody saw that first key
    return store.issue_key(tenant.id, label=label)


@contextlib.contextmanager
def _host(args: argparse.Namespace, settings: Settings, home: Path) -> Iterator[str]:
    url = args.url or os.environ.get("CONVERGIO_URL")
    if not args.in_process and (url or _is_up(_DEFAULT_URL)):
        yield (url or _DEFAULT_URL).rstrip("/")
        return
    with embedded_host(settings, app=args.app, home=home, port=0).running() as base_url:
        yield base_url


def _is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/admin/host/ping", timeout=0.5).status_code == 200  # anonymous, as on Azure
    except httpx.HTTPError:
        return False


def _follow(console: Console, base: str, key: str, graph: dict[str, Any], run_input: Any, poll: float) -> int:
    with httpx.Client(base_url=f"{base}/api/v1", headers={"x-api-key": key}, timeout=30) as client:
        answer = client.post("/runs", json={"graph": graph, "input": run_input})
        if answer.status_code == 401:
            raise RunError(
                f"the host at {base} does not know this tenant; is it using the same state directory?"
            )
        if answer.status_code != 202:
            raise RunError(_describe(answer))
        run_id = answer.json()["id"]
        run: dict[str, Any] = {"id": run_id, "status": "Pending", "nodes": {}}
        try:
            with Live(node_table(run), console=console, refresh_per_second=8, transient=True) as live:
                while run["status"] not in _FINAL:
                    time.sleep(poll)
                    run = client.get(f"/runs/{run_id}").raise_for_status().json()
                    live.update(node_table(run))
        except KeyboardInterrupt:
            client.post(f"/runs/{run_id}/cancel", json={"reason": "interrupted at the terminal"})
            run = client.get(f"/runs/{run_id}").json()
        console.print(run_panel(run))
        return 0 if run["status"] == "Completed" else 1


def _describe(answer: httpx.Response) -> str:
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {answer.status_code}"
    lines = [f"{error['message']} (HTTP {answer.status_code})"]
    lines += [f"  {d['path']}: {d['message']}" for d in error.get("details", [])[1:]]
    return "\n".join(lines)
