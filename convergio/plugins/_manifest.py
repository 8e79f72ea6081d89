"""The plugin manifest (``plugin.json``) and capability grants, as strict pydantic models.

Unknown fields are errors everywhere, so a typo in a capability or a limit is refused instead of
silently ignored. The same ``Capabilities`` model says what a plugin *requests* (in its
manifest) and what a tenant *grants* it (``PluginGrants``); a grant can only narrow a request.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from convergio.graph._schema import schema_problems

from ._abi import CAPABILITY_IMPORTS, HOST_MODULE

__all__ = [
    "Capabilities",
    "HTTPCapability",
    "KVCapability",
    "LLMCapability",
    "Limits",
    "LogCapability",
    "Manifest",
    "PluginGrants",
    "PluginInfo",
    "ToolDecl",
]

PLUGIN_NAME = r"^[a-z][a-z0-9-]{0,62}$"
TOOL_NAME = r"^[a-z][a-z0-9_]{0,62}$"
TENANT_ID = r"^[A-Za-z0-9_-]{1,128}$"
RESERVED_NAMES = frozenset({"mcp", "a2a"})
"""Plugin names taken by other tool families (remote tools are ``mcp.<server>.<tool>``)."""
_HOST = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$"


class _Strict(BaseModel):
    # defer_build: the API's plugin models name these at import; they are built when a manifest
    # or a request body is first validated, not when ``import function_app`` runs (issue 22).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ToolDecl(_Strict):
    """One tool a plugin offers.

    Attributes:
        name: Its name inside the plugin (agents see ``plugin.tool``).
        description: What it does, written for the model.
        input_schema: The JSON Schema (draft 2020-12) of its arguments, an ``object`` schema.
    """

    name: str = Field(pattern=TOOL_NAME)
    description: str = Field(min_length=1, max_length=2000)
    input_schema: dict[str, Any]

    @field_validator("input_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        # a tenant's schema: linear-time patterns and local references only (see convergio.graph)
        problems = schema_problems(schema, "input_schema")
        if problems:
            first = problems[0]
            raise ValueError(f"not a usable JSON Schema: {first['path']}: {first['message']}")
        if schema.get("type") != "object":
            raise ValueError('must be an object schema ("type": "object")')
        return schema


class LogCapability(_Strict):
    """``convergio.log``: write a line to the host's log (size-capped)."""


class KVCapability(_Strict):
    """``convergio.kv_get`` / ``kv_put``: a key-value store private to this tenant and plugin."""


class HTTPCapability(_Strict):
    """``convergio.http_fetch``: HTTP(S) requests to the listed hosts only, no redirects.

    Attributes:
        hosts: Host names, optionally with a port (``api.example.org``, ``127.0.0.1:8080``).
        timeout_ms: Per-request timeout.
        max_response_bytes: Response bodies are cut at this size.
    """

    hosts: list[str] = Field(min_length=1, max_length=32)
    timeout_ms: int = Field(default=5000, ge=1, le=30_000)
    max_response_bytes: int = Field(default=256 * 1024, ge=1, le=4 * 1024 * 1024)

    @field_validator("hosts")
    @classmethod
    def _valid_hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not re.fullmatch(_HOST, host):
                raise ValueError(f"not a host name: {host!r} (lower-case name, optional :port)")
        return hosts


class LLMCapability(_Strict):
    """``convergio.llm_complete``: a completion through the tenant's own provider and budget.

    Attributes:
        max_tokens: The most tokens one completion may ask for.
    """

    max_tokens: int = Field(default=1024, ge=1, le=32_000)


class Capabilities(_Strict):
    """A set of capabilities, requested by a manifest or granted by a tenant; absent is not granted."""

    log: LogCapability | None = None
    kv: KVCapability | None = None
    http: HTTPCapability | None = None
    llm: LLMCapability | None = None

    def names(self) -> frozenset[str]:
        """The capabilities present (``log``, ``kv``, ``http``, ``llm``)."""
        return frozenset(name for name in CAPABILITY_IMPORTS if getattr(self, name) is not None)

    def imports(self) -> frozenset[str]:
        """The ``convergio.*`` imports these capabilities allow a module to have."""
        return frozenset(
            f"{HOST_MODULE}.{function}" for name in self.names() for function in CAPABILITY_IMPORTS[name]
        )

    def within(self, requested: Capabilities) -> list[str]:
        """Check that this grant only narrows ``requested``.

        Args:
            requested: What the plugin's manifest asks for.

        Returns:
            One message per problem; empty when the grant is within the request.
        """
        return [problem["message"] for problem in self.problems(requested)]

    def problems(self, requested: Capabilities) -> list[dict[str, str]]:
        """Like ``within``, as ``{"path", "message"}`` naming each capability (``capabilities.kv``)."""
        problems = [
            {"path": f"capabilities.{name}", "message": f"{name!r} is not requested by the plugin"}
            for name in sorted(self.names() - requested.names())
        ]
        if self.http is not None and requested.http is not None:
            extra = sorted(set(self.http.hosts) - set(requested.http.hosts))
            if extra:
                problems.append(
                    {
                        "path": "capabilities.http.hosts",
                        "message": f"http host(s) not requested by the plugin: {', '.join(extra)}",
                    }
                )
        return problems


class Limits(_Strict):
    """Per-call limits; the host caps each at its own ceiling.

    Attributes:
        fuel: Wasm fuel per call (roughly, instructions).
        memory_pages: Linear memory ceiling, in 64 KiB pages.
        wall_time_ms: Wall-clock time per call, host calls included.
        output_bytes: The largest JSON answer accepted.
    """

    fuel: int = Field(default=50_000_000, ge=1_000, le=10_000_000_000)
    memory_pages: int = Field(default=160, ge=1, le=16_384)
    wall_time_ms: int = Field(default=2_000, ge=1, le=60_000)
    output_bytes: int = Field(default=64 * 1024, ge=16, le=16 * 1024 * 1024)


class PluginInfo(_Strict):
    """What every plugin manifest says, WebAssembly or native: who it is and which tools it offers.

    Attributes:
        name: The plugin name (lower-case, digits, dashes; not ``mcp`` or ``a2a``); tools are
            ``name.tool``.
        version: Its version (semantic, ``1.2.3``).
        description: What it is for.
        tools: The tools it offers (at least one, names unique).
    """

    name: str = Field(pattern=PLUGIN_NAME)
    version: str = Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$", max_length=64)
    description: str = Field(min_length=1, max_length=2000)
    tools: list[ToolDecl] = Field(min_length=1, max_length=64)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMES:
            raise ValueError(f"{name!r} is reserved (tools named {name}.* come from the platform)")
        return name

    @model_validator(mode="after")
    def _unique_tools(self) -> Self:
        names = [tool.name for tool in self.tools]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate tool names: {', '.join(duplicates)}")
        return self

    def tool(self, name: str) -> ToolDecl | None:
        """The tool of that name, or None."""
        return next((tool for tool in self.tools if tool.name == name), None)


class Manifest(PluginInfo):
    """``plugin.json`` of a WebAssembly plugin: what it is, offers, asks for and may use.

    Attributes:
        abi: The guest ABI version (1).
        module: The ``.wasm`` file in the package.
        capabilities: The capabilities it requests.
        limits: The per-call limits it needs.
    """

    abi: Literal[1] = 1
    module: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}\.wasm$")
    capabilities: Capabilities = Capabilities()
    limits: Limits = Limits()


class PluginGrants(_Strict):
    """What one tenant grants one plugin. Nothing is granted by default.

    Attributes:
        tenant_id: The tenant.
        plugin: The plugin name.
        capabilities: The granted capabilities (must be within what the plugin requests).
    """

    tenant_id: str = Field(pattern=TENANT_ID)
    plugin: str = Field(pattern=PLUGIN_NAME)
    capabilities: Capabilities = Capabilities()
