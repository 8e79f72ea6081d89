"""A small evaluator of ARM template expressions, for the template tests (no Azure, no Bicep).

It evaluates what azuredeploy.json uses: parameters and variables, the logical, string, array
and object functions, ``if`` (lazily, as ARM does: the location guard's ``json()`` error is only
raised on the branch that is returned), resource ids, and stand-ins for what only Azure knows
(``reference()``, ``subscription()``, ``deployer()``, ``uniqueString()``, ``newGuid()``). The
stand-ins are deterministic, so the same inputs give the same names, and a ``reference()`` reads
as ``<reference RESOURCE-ID>.property``, which lets a test see what a value is made of.

``Template(template, parameters).deployed()`` gives the resources whose ``condition`` holds,
each with its evaluated id, name, properties and dependencies.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SUBSCRIPTION_ID = "00000000-0000-0000-0000-0000000000aa"
TENANT_ID = "00000000-0000-0000-0000-0000000000bb"
DEPLOYER_OBJECT_ID = "00000000-0000-0000-0000-0000000000cc"
RESOURCE_GROUP = "rg-test"
NEW_GUID = "00000000-0000-0000-0000-0000000000dd"

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[().,\[\]]))"
)


# What Azure would answer for a few runtime properties, so that outputs and settings read as
# they would after a deployment: (resource type, property) -> value from the resource's name.
KNOWN_PROPERTIES: dict[tuple[str, str], Callable[[str], str]] = {
    ("Microsoft.Web/sites", "defaultHostName"): lambda name: f"{name}.azurewebsites.net",
    ("Microsoft.KeyVault/vaults", "vaultUri"): lambda name: f"https://{name}.vault.azure.net/",
}


@dataclass(frozen=True)
class Reference:
    """What ``reference(id)`` stands for: its properties read as ``<reference id>.a.b``, except the
    few in KNOWN_PROPERTIES, which read as Azure would answer them."""

    path: str
    resource_id: str = ""

    def get(self, name: str) -> Reference | str:
        provider = self.resource_id.split("/providers/")[-1].split("/")
        rtype, rname = "/".join(provider[:2]), provider[-1]
        if self.path.endswith(">") and (rtype, name) in KNOWN_PROPERTIES:
            return KNOWN_PROPERTIES[(rtype, name)](rname)
        return Reference(f"{self.path}.{name}", self.resource_id)

    def __str__(self) -> str:
        return self.path


@dataclass
class _Node:
    kind: str  # "literal", "call", "member", "index"
    value: Any = None
    args: list[_Node] = field(default_factory=list)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise ValueError(f"cannot tokenize {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1] != expected):
            raise ValueError(f"expected {expected!r}, found {token!r}")
        self.position += 1
        return token

    def parse(self) -> _Node:
        node = self.expression()
        if self.peek() is not None:
            raise ValueError(f"trailing tokens: {self.tokens[self.position :]}")
        return node

    def expression(self) -> _Node:
        kind, text = self.take()
        if kind == "string":
            node = _Node("literal", text[1:-1].replace("''", "'"))
        elif kind == "number":
            node = _Node("literal", int(text))
        elif kind == "name":
            self.take("(")
            args: list[_Node] = []
            while self.peek() != ("punct", ")"):
                args.append(self.expression())
                if self.peek() == ("punct", ","):
                    self.take(",")
            self.take(")")
            node = _Node("call", text, args)
        else:
            raise ValueError(f"unexpected {text!r}")
        while self.peek() in (("punct", "."), ("punct", "[")):
            if self.take()[1] == ".":
                node = _Node("member", self.take()[1], [node])
            else:
                index = self.expression()
                self.take("]")
                node = _Node("index", None, [node, index])
        return node


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value[:1] == "[" and value[-1:] == "]" and value[:2] != "[["


def _format(template: str, *args: Any) -> str:
    """.NET composite formatting as ARM's format(): {0}, {1}; {{ and }} are literal braces."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "{{":
            return "{"
        if match.group(0) == "}}":
            return "}"
        return _text(args[int(match.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", replace, template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _resource_id(prefix: str, rtype: str, names: tuple[Any, ...]) -> str:
    provider, *types = rtype.split("/")
    assert len(types) == len(names), (rtype, names)
    segments = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    return f"{prefix}/providers/{provider}/{segments}"


def _empty(value: Any) -> bool:
    return value is None or (not isinstance(value, Reference) and len(value) == 0)


def _concat(*args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [item for a in args for item in a]
    return "".join(_text(a) for a in args)


def _union(*args: Any) -> Any:
    if all(isinstance(a, dict) for a in args):
        merged: dict[str, Any] = {}
        for a in args:
            merged.update(a)
        return merged
    seen: list[Any] = []
    for a in args:
        seen.extend(item for item in a if item not in seen)
    return seen


def _unique_string(*args: Any) -> str:
    digest = hashlib.sha256("|".join(_text(a) for a in args).encode()).hexdigest()
    return digest[:13]


def _guid(*args: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(_text(a) for a in args)))


class Template:
    """An ARM template with parameter values: evaluates its expressions and conditions."""

    RG_PREFIX = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}"

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        self.template = template
        given = parameters or {}
        unknown = set(given) - set(template["parameters"])
        assert not unknown, f"not parameters of the template: {unknown}"
        self._given = given
        self._parameters: dict[str, Any] = {}
        self._variables: dict[str, Any] = {}
        self.functions: dict[str, Callable[..., Any]] = {
            "parameters": self.parameter,
            "variables": self.variable,
            "not": lambda v: not v,
            "and": lambda *a: all(a),
            "or": lambda *a: any(a),
            "equals": lambda a, b: a == b,
            "empty": _empty,
            "contains": lambda container, item: item in container,
            "length": len,
            "format": _format,
            "concat": _concat,
            "toLower": lambda s: s.lower(),
            "string": _text,
            "bool": bool,
            "true": lambda: True,
            "false": lambda: False,
            "json": json.loads,
            "createArray": lambda *a: list(a),
            "createObject": lambda *a: {a[i]: a[i + 1] for i in range(0, len(a), 2)},
            "union": _union,
            "uniqueString": _unique_string,
            "guid": _guid,
            "newGuid": lambda: NEW_GUID,
            "subscription": lambda: {
                "id": f"/subscriptions/{SUBSCRIPTION_ID}",
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            },
            "tenant": lambda: {"tenantId": TENANT_ID},
            "resourceGroup": lambda: {"id": self.RG_PREFIX, "name": RESOURCE_GROUP},
            "deployer": lambda: {"objectId": DEPLOYER_OBJECT_ID, "tenantId": TENANT_ID},
            "resourceId": lambda rtype, *names: _resource_id(self.RG_PREFIX, rtype, names),
            "subscriptionResourceId": lambda rtype, *names: _resource_id(
                f"/subscriptions/{SUBSCRIPTION_ID}", rtype, names
            ),
            "extensionResourceId": lambda scope, rtype, *names: _resource_id(scope, rtype, names),
            "reference": lambda resource_id, *_: Reference(f"<reference {resource_id}>", resource_id),
        }

    # ------------------------------------------------------------ values

    def parameter(self, name: str) -> Any:
        if name not in self._parameters:
            spec = self.template["parameters"][name]
            if name in self._given:
                self._parameters[name] = self._given[name]
            else:
                assert "defaultValue" in spec, f"parameter {name} is required"
                self._parameters[name] = self.value(spec["defaultValue"])
        return self._parameters[name]

    def variable(self, name: str) -> Any:
        if name not in self._variables:
            self._variables[name] = self.value(self.template["variables"][name])
        return self._variables[name]

    def value(self, value: Any) -> Any:
        """Evaluate a template value: expressions in strings, recursively in objects and arrays."""
        if is_expression(value):
            return self.evaluate(value[1:-1])
        if isinstance(value, str) and value.startswith("[["):
            return value[1:]
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def evaluate(self, expression: str) -> Any:
        return self._run(_Parser(expression).parse())

    def _run(self, node: _Node) -> Any:
        if node.kind == "literal":
            return node.value
        if node.kind == "member":
            target = self._run(node.args[0])
            return target.get(node.value) if isinstance(target, Reference) else target[node.value]
        if node.kind == "index":
            return self._run(node.args[0])[self._run(node.args[1])]
        if node.value == "if":  # only the branch that is returned is evaluated
            condition, then, otherwise = node.args
            return self._run(then) if self._run(condition) else self._run(otherwise)
        function = self.functions.get(node.value)
        if function is None:
            raise NotImplementedError(f"ARM function {node.value}() is not in the test evaluator")
        return function(*(self._run(arg) for arg in node.args))

    # ------------------------------------------------------------ resources

    def condition(self, resource: dict[str, Any]) -> bool:
        return bool(self.value(resource.get("condition", True)))

    def resource_id(self, resource: dict[str, Any]) -> str:
        """The id ARM gives the resource: resourceId(type, name segments), under its scope if any."""
        names = tuple(self.value(resource["name"]).split("/"))
        if "scope" in resource:
            scope = self.value(resource["scope"])  # 'Microsoft.X/type/name[/subtype/name]'
            provider, *rest = scope.split("/")
            scope_id = _resource_id(self.RG_PREFIX, "/".join([provider, *rest[0::2]]), tuple(rest[1::2]))
            return _resource_id(scope_id, resource["type"], names)
        return _resource_id(self.RG_PREFIX, resource["type"], names)

    def scope_type(self, resource_id: str) -> str:
        """'Microsoft.KeyVault/vaults/secrets' from a resource id (its last provider's types)."""
        provider, *rest = resource_id.split("/providers/")[-1].split("/")
        return "/".join([provider, *rest[0::2]])

    def _copies(self, resource: dict[str, Any]) -> list[int | None]:
        if "copy" not in resource:
            return [None]
        return list(range(self.value(resource["copy"]["count"])))

    def deployed(self) -> list[Deployed]:
        """The resources this deployment creates, in template order (conditions evaluated, copy
        loops unrolled), each with its id, name, properties and dependencies evaluated."""
        found = []
        for resource in self.template["resources"]:
            for index in self._copies(resource):
                self.functions["copyIndex"] = lambda offset=0, i=index: i + offset
                if not self.condition(resource):
                    continue
                found.append(
                    Deployed(
                        type=resource["type"],
                        id=self.resource_id(resource),
                        name=str(self.value(resource["name"])),
                        properties=self.value(resource.get("properties", {})),
                        depends_on=[self.value(d) for d in resource.get("dependsOn", [])],
                        raw=resource,
                    )
                )
        self.functions.pop("copyIndex", None)
        return found

    def all_ids(self) -> set[str]:
        """Ids of every resource of the template, deployed or not (dependsOn may name either)."""
        ids = set()
        for resource in self.template["resources"]:
            for index in self._copies(resource):
                self.functions["copyIndex"] = lambda offset=0, i=index: i + offset
                ids.add(self.resource_id(resource))
        self.functions.pop("copyIndex", None)
        return ids

    def outputs(self) -> dict[str, Any]:
        return {name: self.value(o["value"]) for name, o in self.template["outputs"].items()}


@dataclass
class Deployed:
    type: str
    id: str
    name: str
    properties: Any
    depends_on: list[str]
    raw: dict[str, Any]


def deployment_order(resources: list[Deployed], all_ids: set[str]) -> list[str]:
    """A topological order of the deployed resources by dependsOn (ARM ignores dependencies on
    resources whose condition is false). Fails on a dependency that names no resource of the
    template, or on a cycle."""
    deployed = {r.id: r for r in resources}
    for r in resources:
        for d in r.depends_on:
            assert d in all_ids, f"{r.id} depends on {d}, which the template does not declare"
    order: list[str] = []
    visiting: set[str] = set()

    def visit(rid: str) -> None:
        if rid in order:
            return
        assert rid not in visiting, f"dependency cycle through {rid}"
        visiting.add(rid)
        for d in deployed[rid].depends_on:
            if d in deployed:
                visit(d)
        visiting.discard(rid)
        order.append(rid)

    for r in resources:
        visit(r.id)
    return order


def before(resources: list[Deployed], first: str, then: str) -> bool:
    """Whether ``then`` (an id) transitively depends on ``first``: ARM creates ``first`` earlier."""
    deployed = {r.id: r for r in resources}
    pending, seen = [then], set()
    while pending:
        rid = pending.pop()
        for d in deployed[rid].depends_on:
            if d == first:
                return True
            if d in deployed and d not in seen:
                seen.add(d)
                pending.append(d)
    return False
