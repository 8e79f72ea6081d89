"""The API's function table: every trigger's name, route, methods and handler, kept apart from the handlers.

``convergio/api/__init__.py`` registers a thin trigger per entry, and a trigger imports its
handler's module on its first call: ``import function_app`` (what the Functions worker does at
a cold start to index the functions) then loads neither pydantic, the models, the stores nor
the route modules, and a route's first request imports its own module only (issue 22). A route
module defines its handlers as plain functions and registers nothing itself.

The function's name is Azure's name for it (the portal, the logs, the host's function keys), so
it stays what it was; the handler is the route module's attribute of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["KEEPER_SCHEDULE", "ROUTES", "Route"]


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP function: its trigger's settings and where its handler lives."""

    name: str
    """The function's name, and the handler's name in ``module``."""
    route: str
    methods: tuple[str, ...]
    module: str
    """The route module under ``convergio.api`` (``_runs``)."""
    client: bool = True
    """Takes the durable client (parameter ``client``), a coroutine; else a plain function of ``req``."""
    auth_level: str = "ANONYMOUS"
    """A ``func.AuthLevel`` name: the API checks its own keys (``caller_of``)."""
    streams: bool = False
    """May answer with a ``StreamingResponse`` (live streaming on), not only a ``func.HttpResponse``."""


KEEPER_SCHEDULE: Final = "0 7 * * * *"
"""NCRONTAB, hourly at minute 7: how soon a lost retention orchestration is started again on Azure."""

# In the order the route modules registered them before: the embedded host sorts routes by
# their templates, and keeps this order among equals.
ROUTES: Final = (
    Route("a2a_agent", "a2a/{graph}/{*rest}", ("GET", "POST"), "_a2a"),
    Route("get_budget", "v1/tenants/me/budget", ("GET",), "_budget"),
    Route("put_budget", "v1/tenants/me/budget", ("PUT",), "_budget"),
    Route("overage_consent", "v1/tenants/me/overage-consent", ("POST",), "_budget"),
    Route("put_connection", "v1/tenants/me/connections/{name}", ("PUT",), "_connections"),
    Route("list_connections", "v1/tenants/me/connections", ("GET",), "_connections"),
    Route("get_connection", "v1/tenants/me/connections/{name}", ("GET",), "_connections"),
    Route("delete_connection", "v1/tenants/me/connections/{name}", ("DELETE",), "_connections"),
    Route("share_graph", "v1/graphs/{name}/share", ("PUT",), "_sharing"),
    Route("unshare_graph", "v1/graphs/{name}/share", ("DELETE",), "_sharing"),
    Route("start_run", "v1/runs", ("POST",), "_runs"),
    Route("list_runs", "v1/runs", ("GET",), "_runs"),
    Route("get_run", "v1/runs/{id}", ("GET",), "_runs"),
    Route("purge_run", "v1/runs/{id}", ("DELETE",), "_runs"),
    Route("cancel_run", "v1/runs/{id}/cancel", ("POST",), "_runs"),
    Route("send_event", "v1/runs/{id}/events/{name}", ("POST",), "_runs"),
    Route("receive_hook", "v1/hooks/{id}", ("POST",), "_hooks"),
    Route("receive_hook_event", "v1/hooks/{id}/runs/{run_id}", ("POST",), "_hooks"),
    Route("create_hook", "v1/hooks", ("POST",), "_hooks"),
    Route("list_hooks", "v1/hooks", ("GET",), "_hooks"),
    Route("delete_hook", "v1/hooks/{id}", ("DELETE",), "_hooks"),
    Route("create_callback", "v1/callbacks", ("POST",), "_hooks"),
    Route("list_callbacks", "v1/callbacks", ("GET",), "_hooks"),
    Route("delete_callback", "v1/callbacks/{id}", ("DELETE",), "_hooks"),
    Route("list_deliveries", "v1/callbacks/{id}/deliveries", ("GET",), "_hooks"),
    Route("list_graphs", "v1/graphs", ("GET",), "_graphs"),
    Route("get_graph", "v1/graphs/{name}", ("GET",), "_graphs"),
    Route("openapi", "v1/openapi.json", ("GET",), "_graphs"),
    Route("mcp_endpoint", "mcp", ("GET", "POST", "DELETE"), "_mcp"),
    Route("put_mcp_server", "v1/tenants/me/mcp-servers/{name}", ("PUT",), "_mcp_servers"),
    Route("list_mcp_servers", "v1/tenants/me/mcp-servers", ("GET",), "_mcp_servers"),
    Route("get_mcp_server", "v1/tenants/me/mcp-servers/{name}", ("GET",), "_mcp_servers"),
    Route("refresh_mcp_server", "v1/tenants/me/mcp-servers/{name}/refresh", ("POST",), "_mcp_servers"),
    Route("delete_mcp_server", "v1/tenants/me/mcp-servers/{name}", ("DELETE",), "_mcp_servers"),
    Route("list_members", "v1/tenants/me/members", ("GET",), "_members"),
    Route("invite_member", "v1/tenants/me/members", ("POST",), "_members"),
    Route("delete_member", "v1/tenants/me/members/{id}", ("DELETE",), "_members"),
    Route("list_keys", "v1/tenants/me/keys", ("GET",), "_members"),
    Route("issue_key", "v1/tenants/me/keys", ("POST",), "_members"),
    Route("revoke_key", "v1/tenants/me/keys/{id}", ("DELETE",), "_members"),
    Route("upload_plugin", "v1/plugins", ("POST",), "_plugins"),
    Route("list_plugins", "v1/plugins", ("GET",), "_plugins"),
    Route("put_grants", "v1/plugins/{name}/grants", ("PUT",), "_plugins"),
    Route("delete_plugin", "v1/plugins/{name}", ("DELETE",), "_plugins"),
    Route("get_retention", "v1/tenants/me/retention", ("GET",), "_retention"),
    Route("put_retention", "v1/tenants/me/retention", ("PUT",), "_retention"),
    Route("get_run_graph", "v1/runs/{id}/graph", ("GET",), "_run_graph"),
    Route("get_run_outputs", "v1/runs/{id}/outputs", ("GET",), "_run_outputs"),
    Route("retry_run", "v1/runs/{id}/retry", ("POST",), "_retry"),
    Route("get_run_agent", "v1/runs/{id}/agents/{node}", ("GET",), "_run_agents"),
    Route("setup_state", "v1/setup", ("GET",), "_setup"),
    Route("claim", "v1/setup/claim", ("POST",), "_setup"),
    Route("me", "v1/me", ("GET",), "_setup"),
    Route("stream_run", "v1/runs/{id}/stream", ("GET",), "_stream", streams=True),
    Route("list_tenants", "v1/tenants", ("GET",), "_tenants_admin"),
    Route("add_tenant", "v1/tenants", ("POST",), "_tenants_admin"),
    Route("usage", "v1/usage", ("GET",), "_usage"),
    Route("usage_by_graph", "v1/usage/graphs", ("GET",), "_usage_graphs"),
    Route("web_app", "app/{*path}", ("GET",), "_web", client=False),
)
