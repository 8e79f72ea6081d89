"""Prompt templates: Jinja in a sandbox, checked against the graph before a run.

A prompt sees ``input`` (the run input), ``outputs`` (one entry per dependency),
``event`` (the human input an ``await_event`` agent received) and ``task`` (what a
supervisor asked a worker to do). The sandbox keeps templates from reaching
Python internals; ``StrictUndefined`` turns a missing input field into a clear
node error instead of an empty string sent to a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateError", "check_template", "render_prompt", "TEMPLATE_NAMES"]

TEMPLATE_NAMES = frozenset({"input", "outputs", "event", "task"})
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class TemplateError(ValueError):
    """A prompt template that cannot be parsed or rendered; the message says why."""


@lru_cache(maxsize=512)
def _compile(source: str) -> Any:
    return _ENV.from_string(source)


def check_template(source: str) -> tuple[set[str], set[str]]:
    """Parse a template; return (top-level names, dependency ids under ``outputs``).

    Raises:
        TemplateError: the template does not parse.
    """
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    assigned = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"} - assigned
    deps: set[str] = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "outputs":
            deps.add(node.attr)
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "outputs"
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            deps.add(item.arg.value)
    return names, deps


def render_prompt(source: str, context: Mapping[str, Any]) -> str:
    """Render a prompt template with the run's data.

    Raises:
        TemplateError: the template references something the run does not have.
    """
    try:
        return str(_compile(source).render(**{name: context.get(name) for name in TEMPLATE_NAMES}))
    except UndefinedError as exc:
        raise TemplateError(f"prompt references a missing value: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"prompt template not allowed: {exc}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
