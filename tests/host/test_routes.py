"""Functions route templates compile to the paths the Functions host would match."""

from __future__ import annotations

import pytest

from convergio.host._functions import compile_route


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        ("orchestrators/{functionName}", "orchestrators/chaining", {"functionName": "chaining"}),
        ("hello/{name?}", "hello", {}),
        ("hello/{name?}", "hello/Ada", {"name": "Ada"}),
        ("items/{id:int}", "items/42", {"id": "42"}),
        ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
        ("/{*route}", "anything/at/all", {"route": "anything/at/all"}),
        ("v1/runs/{id}/events/{name}", "v1/runs/r1/events/go", {"id": "r1", "name": "go"}),
    ],
)
def test_templates_match_and_capture(template: str, path: str, params: dict[str, str]) -> None:
    found = compile_route(template).fullmatch(path)
    assert found is not None
    assert {k: v for k, v in found.groupdict().items() if v is not None} == params


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("orchestrators/{functionName}", "orchestrators"),
        ("orchestrators/{functionName}", "orchestrators/a/b"),
        ("hello/{name?}", "hellox"),
        ("v1/runs/{id}", "v1/runs/"),
        ("items/{id:int}", "items/abc"),
        ("flags/{on:bool}", "flags/maybe"),
    ],
)
def test_templates_reject_other_paths(template: str, path: str) -> None:
    assert compile_route(template).fullmatch(path) is None
