"""A tenant's WebAssembly plugins as a ``ToolSource``: agents call ``plugin.tool`` like a built-in.

Binding checks what can be checked once per agent call (the tool exists, the tenant granted
every capability the module imports), so an ungranted plugin fails the agent with a message
saying what to grant instead of failing each call. A bound tool runs the plugin with the
agent's own model behind ``llm_complete`` (the tenant's connection, the agent's budget; its
tokens are metered with the agent) and no more wall time than the agent has left. Every plugin
failure becomes a ``ToolError`` the model reads; the host keeps serving.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from convergio.tools import Tool, ToolContext, ToolError

from ._abi import CAPABILITY_IMPORTS
from ._capabilities import LLMComplete, LLMRequest
from ._errors import PluginError, PluginNotFound, UngrantedImport
from ._registry import InstalledPlugin, PluginRegistry

__all__ = ["PluginTools", "llm_of"]


class PluginTools:
    """The tools of each tenant's installed plugins, named ``plugin.tool``.

    Args:
        registry: Where the tenants' plugins are installed.
    """

    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry

    def tool_names(self, tenant_id: str) -> frozenset[str]:
        """``plugin.tool`` for every tool of every plugin the tenant installed."""
        return frozenset(
            f"{plugin.manifest.name}.{tool.name}"
            for plugin in self.registry.list(tenant_id)
            for tool in plugin.manifest.tools
        )

    def bind(self, name: str, context: ToolContext) -> Tool | None:
        """The plugin tool ``name`` for one agent call, or ``None`` when the tenant has no such tool.

        Raises:
            ToolError: the tenant has not granted a capability the plugin's module imports.
        """
        plugin_name, dot, tool_name = name.partition(".")
        if not dot:
            return None
        try:
            plugin = self.registry.get(context.tenant_id, plugin_name)
        except (PluginNotFound, ValueError):
            return None
        declared = plugin.manifest.tool(tool_name)
        if declared is None:
            return None
        self._check_grants(plugin)
        deadline = None if context.timeout_s is None else time.monotonic() + context.timeout_s
        llm = llm_of(context)
        registry, tenant_id = self.registry, context.tenant_id

        def run(arguments: dict[str, Any]) -> str:
            try:
                return registry.call_plugin_tool(
                    tenant_id, name, arguments, llm=llm, max_wall_time_ms=_ms_left(deadline)
                )
            except PluginError as exc:
                raise ToolError(exc.message) from None

        return Tool(name=name, description=declared.description, parameters=declared.input_schema, fn=run)

    def _check_grants(self, plugin: InstalledPlugin) -> None:
        manifest = plugin.manifest
        try:
            module = self.registry.host.compile(plugin.wasm)
            self.registry.host.check_imports(
                module, plugin.grants.capabilities.imports(), plugin=manifest.name, why="granted"
            )
        except UngrantedImport as exc:
            function = exc.import_name.rpartition(".")[2]
            capability = next((c for c, fs in CAPABILITY_IMPORTS.items() if function in fs), function)
            raise ToolError(
                f"plugin {manifest.name!r} imports {exc.import_name} but the tenant has not granted "
                f"the {capability!r} capability: "
                f"grant it with PUT /api/v1/plugins/{manifest.name}/grants"
            ) from None
        except PluginError as exc:
            raise ToolError(exc.message) from None


def llm_of(context: ToolContext) -> LLMComplete | None:
    """The agent's own model as the ``llm_complete`` capability, when the agent offers one."""
    complete = context.complete
    if complete is None:
        return None
    ask: Callable[[str, str | None, int], str] = complete

    def llm(request: LLMRequest) -> str:
        return ask(request.prompt, request.system, request.max_tokens)

    return llm


def _ms_left(deadline: float | None) -> int | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise ToolError("the agent has no time left for this tool call")
    return max(math.floor(left * 1000), 1)
