"""Building test plugins from WAT: a minimal ABI prelude plus a ``call`` body per fixture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PRELUDE = """
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    global.get $heap
    local.set $p
    global.get $heap
    local.get $n
    i32.add
    global.set $heap
    global.get $heap
    memory.size
    i32.const 16
    i32.shl
    i32.gt_u
    if
      global.get $heap
      memory.size
      i32.const 16
      i32.shl
      i32.sub
      i32.const 65535
      i32.add
      i32.const 16
      i32.shr_u
      memory.grow
      i32.const -1
      i32.eq
      if
        unreachable
      end
    end
    local.get $p)
"""


def module(call_body: str, *, imports: str = "", data: str = "", extra: str = "") -> str:
    """A module with the ABI prelude and ``call`` doing ``call_body`` (which leaves an i64)."""
    return (
        f"(module {imports}\n{PRELUDE}\n{data}\n{extra}\n"
        f'  (func (export "call") (param $p i32) (param $n i32) (result i64)\n{call_body})\n)'
    )


def constant_answer(text: str) -> tuple[str, str]:
    """A data segment at 128 and a body returning it: ``(data, body)``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'(data (i32.const 128) "{escaped}")', f"i64.const {(128 << 32) | len(text.encode())}"


def write_plugin(
    root: Path,
    name: str,
    wat: str,
    *,
    capabilities: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> Path:
    """A plugin folder holding ``plugin.json`` and ``module.wat`` (built when read)."""
    folder = root / name
    folder.mkdir(parents=True)
    manifest = {
        "name": name,
        "version": "0.1.0",
        "description": f"test plugin {name}",
        "module": "module.wasm",
        "tools": tools
        or [{"name": "run", "description": "run it", "input_schema": {"type": "object", "properties": {}}}],
        "capabilities": capabilities or {},
        "limits": limits or {},
    }
    (folder / "plugin.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "module.wat").write_text(wat, encoding="utf-8")
    return folder


SPIN = module("    (loop $forever\n      br $forever)\n    i64.const 0")
"""Loops until it runs out of fuel or wall time."""

ASK_LLM = module(
    """    (local $got i64) (local $at i32)
    ;; the arguments object: after {"tool":"run","arguments": (26 bytes), before the last brace
    local.get $p
    i32.const 26
    i32.add
    local.get $n
    i32.const 27
    i32.sub
    call $llm
    local.set $got
    ;; answer {"result": <host json>} built around the host's answer in place
    local.get $got
    i64.const 32
    i64.shr_u
    i32.wrap_i64
    i32.const 10
    i32.sub
    local.tee $at
    i32.const 128
    i32.const 10
    memory.copy
    local.get $at
    local.get $got
    i64.const 0xFFFFFFFF
    i64.and
    i32.wrap_i64
    i32.add
    i32.const 10
    i32.add
    i32.const 125
    i32.store8
    local.get $at
    i64.extend_i32_u
    i64.const 32
    i64.shl
    local.get $got
    i64.const 0xFFFFFFFF
    i64.and
    i64.const 11
    i64.add
    i64.or""",
    imports='(import "convergio" "llm_complete" (func $llm (param i32 i32) (result i64)))',
    data='(data (i32.const 128) "{\\"result\\":")',
)
"""Passes its arguments to ``llm_complete`` and answers ``{"result": <the host's answer>}``."""
