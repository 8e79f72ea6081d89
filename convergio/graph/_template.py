"""Prompt templates: Jinja in a sandbox, checked against the graph before a run.

A prompt sees ``input`` (the run input), ``outputs`` (one entry per dependency),
``event`` (the human input an ``await_event`` agent received) and ``task`` (what a
supervisor asked a worker to do). The sandbox keeps templates from reaching
Python internals; ``StrictUndefined`` turns a missing input field into a clear
node error instead of an empty string sent to a model.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateError", "check_template", "render_prompt", "TEMPLATE_NAMES"]

TEMPLATE_NAMES = frozenset({"input", "outputs", "event", "task"})


class TemplateError(ValueError):
    """A prompt template that cannot be parsed or rendered; the message says why."""


@functools.cache
def _env() -> ImmutableSandboxedEnvironment:
    """The one sandbox, made on first use: Jinja is not imported when the app loads (issue 22)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@functools.lru_cache(maxsize=512)
def _compile(source: str) -> Any:
    template = _env().from_string(source)
    # Jinja chains the template's globals onto the sandbox's and copies the chain into every
    # render's context: two thirds of a short prompt's render. The sandbox's globals never
    # change once it is made, so one flat copy per template renders the same.
    template.globals = dict(template.globals)
    return template


def check_template(source: str) -> tuple[set[str], set[str]]:
    """Parse a template; return (top-level names, dependency ids under ``outputs``).

    Parsed once per distinct source: a wide graph repeats the same prompt on hundreds of
    agents, and Jinja's parse was two thirds of ``POST /runs`` for a 500-wide fan-out (issue 22).

    Raises:
        TemplateError: the template does not parse.
    """
    names, deps = _checked(source)
    return set(names), set(deps)


@functools.lru_cache(maxsize=256)
def _checked(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """``check_template`` for one source, cached (a syntax error is raised again, not cached)."""
    from jinja2 import TemplateSyntaxError, nodes

    try:
        tree = _env().parse(source)
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
    return frozenset(names), frozenset(deps)


def render_prompt(source: str, context: Mapping[str, Any]) -> str:
    """Render a prompt template with the run's data.

    Raises:
        TemplateError: the template references something the run does not have.
    """
    try:
        return str(_compile(source).render({name: context.get(name) for name in TEMPLATE_NAMES}))
    except Exception as exc:
        error = _render_error(exc)
        if error is None:
            raise
        raise error from None


def _render_error(exc: Exception) -> TemplateError | None:
    """``exc`` as a ``TemplateError`` if Jinja raised it (its classes are imported only here)."""
    from jinja2 import TemplateSyntaxError
    from jinja2.exceptions import SecurityError, UndefinedError

    if isinstance(exc, UndefinedError):
        return TemplateError(f"prompt references a missing value: {exc.message}")
    if isinstance(exc, SecurityError):
        return TemplateError(f"prompt template not allowed: {exc}")
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}")
    return None
