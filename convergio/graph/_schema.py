"""JSON Schema for untrusted schemas: linear-time regexes, local references only, bounded work.

A graph's ``input_schema`` comes from a tenant, and so does the run input checked against it.
jsonschema's stock validator evaluates ``pattern`` with Python's backtracking ``re`` (one
``^(a+)+$`` froze the whole host), resolves ``$ref`` by fetching URLs and reading files, and has
no bound on the work a schema can ask for. Here:

- ``pattern``, ``patternProperties`` and ``additionalProperties``' pattern matching use RE2
  (linear time); a pattern RE2 cannot compile (backreferences, lookaround) is rejected when the
  graph is validated, naming its path, as are non-local ``$ref`` s (only ``#...`` is allowed).
- references resolve inside the schema only: the registry's retrieve function refuses all.
- every keyword evaluation counts against a step budget and a deadline, and messages quoting
  the instance are cut short.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convergio.errors import Problem

# jsonschema, referencing and RE2 are imported on first use, not when the app loads (issue 22).
if TYPE_CHECKING:
    from jsonschema import ValidationError
    from referencing import Registry, Resource

__all__ = [
    "MAX_STEPS",
    "MAX_VALIDATION_S",
    "BudgetExceeded",
    "argument_problem",
    "input_validator",
    "schema_problems",
    "validation_errors",
]

MAX_STEPS = 200_000
"""Keyword evaluations one validation may take (a hostile schema can ask for exponentially many)."""
MAX_VALIDATION_S = 1.0
MAX_MESSAGE = 300

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = (
    "not",
    "if",
    "then",
    "else",
    "contains",
    "additionalProperties",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
    "items",
)
_BASE = "urn:convergio:input-schema"


class BudgetExceeded(Exception):
    """Validation asked for more work than ``MAX_STEPS`` or ``MAX_VALIDATION_S`` allow."""


@dataclass(slots=True)
class _Budget:
    steps: int
    deadline: float


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "convergio_schema_budget", default=None
)


def _options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # a tenant's bad pattern is a 422, not a line on the host's stderr
    return options


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    """The RE2 program for ``pattern``; raises ``re2.error`` for what RE2 cannot run."""
    import re2

    return re2.compile(pattern, _options())


def _search(pattern: str, text: str) -> bool:
    return _compiled(pattern).search(text) is not None


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.steps -= 1
    if budget.steps < 0 or (budget.steps % 256 == 0 and time.monotonic() > budget.deadline):
        raise BudgetExceeded("validating the input against input_schema takes too much work")


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        from jsonschema import ValidationError

        yield ValidationError(f"{_short(instance)} does not match {_short(pattern)}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [k for k in instance if k not in known and not any(_search(p, k) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        from jsonschema import ValidationError

        shown = ", ".join(_short(e) for e in sorted(extras)[:10])
        yield ValidationError(f"Additional properties are not allowed ({shown} unexpected)")


_Keyword = Callable[..., "Iterable[ValidationError] | None"]


def _budgeted(keyword: _Keyword) -> Callable[..., Iterator[ValidationError]]:
    @functools.wraps(keyword)
    def counted(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        _tick()
        yield from keyword(validator, value, instance, schema) or ()

    return counted


@functools.cache
def input_validator() -> Any:
    """Draft 2020-12 with RE2 patterns and a step budget (``validation_errors`` sets the budget)."""
    from jsonschema import Draft202012Validator, validators

    keywords = dict(Draft202012Validator.VALIDATORS)
    keywords |= {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    return validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {name: _budgeted(fn) for name, fn in keywords.items()}
    )


def _refuse(uri: str) -> Resource[Any]:
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs class


def _registry(schema: Any) -> Registry[Any]:
    import referencing.jsonschema
    from referencing import Registry

    resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
    registry: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]  # attrs class
    with_schema: Registry[Any] = registry.with_resource(_BASE, resource)
    return with_schema


def validation_errors(schema: dict[str, Any], instance: Any, limit: int = 20) -> list[tuple[list[Any], str]]:
    """The first ``limit`` violations as ``(path, message)``, in path order.

    Raises:
        BudgetExceeded: the schema asks for too much work on this instance.
        ValueError: the schema refers to something it does not contain, or recurses forever.
    """
    from referencing import Registry
    from referencing.exceptions import Unresolvable

    registry: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]  # attrs class
    validator = input_validator()(schema, registry=registry)
    token = _BUDGET.set(_Budget(MAX_STEPS, time.monotonic() + MAX_VALIDATION_S))
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    except Unresolvable as exc:
        raise ValueError(f"input_schema: unresolvable reference {_short(str(exc.ref))}") from None
    except RecursionError:
        raise ValueError("input_schema: its references recurse without end") from None
    finally:
        _BUDGET.reset(token)
    return [(list(e.absolute_path), _short(e.message, quote=False)) for e in errors[:limit]]


def argument_problem(schema: dict[str, Any], arguments: Any) -> tuple[str, str] | None:
    """The first way ``arguments`` break a tool's schema, as ``(where, message)``, or ``None``.

    For tool calls: a tenant's plugin manifest or MCP server supplies the schema, and a model
    the arguments, so this runs on the same linear-time, no-retrieval, bounded validator as
    run inputs. A schema that refers outside itself or asks for too much work is a problem too
    (``where`` is ``arguments``), never a fetch or a frozen worker.
    """
    try:
        errors = validation_errors(schema, arguments, limit=1)
    except (BudgetExceeded, ValueError) as exc:
        return "arguments", str(exc)
    if not errors:
        return None
    path, message = errors[0]
    return "/".join(str(part) for part in path) or "arguments", message


def schema_problems(schema: Any, at: str) -> list[Problem]:
    """What makes ``schema`` unfit as an input schema, each problem at its path under ``at``."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from referencing.exceptions import Unresolvable

    problems: list[Problem] = []
    refs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for path, node in _subschemas(schema, at):
        _node_problems(node, path, problems, refs, seen)
    if "patternProperties" in seen and "unevaluatedProperties" in seen:
        message = "patternProperties cannot be combined with unevaluatedProperties"
        problems.append({"path": at, "message": message})
    if problems:
        return problems
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = at + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        return [{"path": where, "message": f"not a JSON Schema: {_short(exc.message, quote=False)}"}]
    resolver = _registry(schema).resolver(base_uri=_BASE)
    for path, ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            problems.append({"path": path, "message": f"{ref!r} points at nothing in this schema"})
    return problems


def _node_problems(
    node: dict[str, Any], path: str, problems: list[Problem], refs: list[tuple[str, str]], seen: set[str]
) -> None:
    import re2

    seen.update(k for k in ("patternProperties", "unevaluatedProperties") if k in node)
    for key in ("$ref", "$dynamicRef"):
        ref = node.get(key)
        if ref is None:
            continue
        if not isinstance(ref, str) or not ref.startswith("#"):
            message = "only local references (#/...) are allowed; nothing is fetched"
            problems.append({"path": f"{path}.{key}", "message": message})
        elif key == "$ref":
            refs.append((f"{path}.{key}", ref))
    patterns = [("pattern", node.get("pattern"))] if "pattern" in node else []
    if isinstance(node.get("patternProperties"), dict):
        patterns += [(f"patternProperties.{p}", p) for p in node["patternProperties"]]
    for where, pattern in patterns:
        if not isinstance(pattern, str):
            continue  # check_schema names it
        try:
            _compiled(pattern)
        except re2.error as exc:
            raw = exc.args[0] if exc.args else ""
            reason = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            problems.append(
                {
                    "path": f"{path}.{where}",
                    "message": f"pattern not supported (linear-time regexes only, no backreferences "
                    f"or lookaround): {_short(reason, quote=False)}",
                }
            )


def _subschemas(schema: Any, at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object in ``schema`` with its path, iteratively (nesting depth is the client's)."""
    stack = [(at, schema)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict):
            continue
        yield path, node
        for key in _SCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                stack += [(f"{path}.{key}.{name}", sub) for name, sub in node[key].items()]
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                stack += [(f"{path}.{key}[{i}]", sub) for i, sub in enumerate(node[key])]
        for key in _SCHEMA_ONE:
            if key in node:
                stack.append((f"{path}.{key}", node[key]))


def _short(value: Any, quote: bool = True) -> str:
    text = repr(value) if quote else str(value)
    return text if len(text) <= MAX_MESSAGE else f"{text[: MAX_MESSAGE - 15]}... ({len(text)} chars)"
