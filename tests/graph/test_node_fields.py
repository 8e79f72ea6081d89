"""A node starts with every field set, unmarked, and only its shown fields mark it when set."""

from __future__ import annotations

import typing

import pytest

from convergio.graph._node import SHOWN, ZERO, Node
from convergio.graph._spec import AgentSpec

FIELDS = set(typing.get_type_hints(Node))


def fresh() -> tuple[Node, set[str]]:
    changed: set[str] = set()
    return Node(AgentSpec.model_validate({"id": "a", "prompt": "x"}), changed), changed


def test_a_new_node_has_every_field_and_is_no_change() -> None:
    node, changed = fresh()
    assert set(vars(node)) == FIELDS
    assert not changed
    assert node.usage == ZERO and node.usage is not ZERO
    other, _ = fresh()
    assert node.tokens is not other.tokens and node.rounds is not other.rounds


@pytest.mark.parametrize("name", sorted(FIELDS - {"spec", "changed"}))
def test_setting_a_field_marks_the_node_only_if_its_entry_shows_it(name: str) -> None:
    node, changed = fresh()
    setattr(node, name, getattr(node, name))
    assert changed == ({"a"} if name in SHOWN else set())
