"""Prompt templates: checked against the graph, rendered in a sandbox."""

from __future__ import annotations

import pytest

from convergio.graph import TemplateError, check_template, render_prompt


def test_check_finds_names_and_dependencies() -> None:
    names, deps = check_template(
        "{{ input.topic }} {{ outputs.plan }} {{ outputs['review'] }} {% for x in task %}{{ x }}{% endfor %}"
    )
    assert names == {"input", "outputs", "task"}
    assert deps == {"plan", "review"}


def test_render_and_errors() -> None:
    assert render_prompt("Hi {{ input.name }}", {"input": {"name": "Ada"}}) == "Hi Ada"
    with pytest.raises(TemplateError, match="missing value"):
        render_prompt("Hi {{ input.name }}", {"input": {}})
    with pytest.raises(TemplateError, match="not allowed"):
        render_prompt("{{ input.__class__.__mro__ }}", {"input": {}})  # no way to Python internals
    with pytest.raises(TemplateError, match="not allowed"):
        render_prompt("{{ input.clear() }}", {"input": {"a": 1}})  # templates cannot change the data
    with pytest.raises(TemplateError, match="syntax error"):
        check_template("{{ oops")


def test_a_template_sees_the_sandbox_globals_and_one_template_renders_many_times() -> None:
    # Each compiled template keeps a flat copy of the sandbox's globals (ADR 0036): Jinja's own
    # globals still work, a render's data never leaks into the next, and the sandbox still holds.
    source = "{% set ns = namespace(n=0) %}{% for i in range(input.n) %}{% set ns.n = ns.n + i %}{% endfor %}"
    source += "{{ ns.n }} {{ dict(a=1) | list | first }} {{ task or 'none' }}"
    assert render_prompt(source, {"input": {"n": 4}, "task": "t"}) == "6 a t"
    assert render_prompt(source, {"input": {"n": 3}}) == "3 a none"
    with pytest.raises(TemplateError, match="not allowed"):
        render_prompt("{{ range.__globals__ }}", {})
    with pytest.raises(TemplateError, match="missing value"):
        render_prompt("{{ outputs.a }}", {"input": {}})
