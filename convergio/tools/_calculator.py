"""The ``calculator`` tool: arithmetic a model can trust, without ``eval``.

Models are bad at arithmetic and good at writing expressions. The expression is parsed with
``ast`` and only numbers, ``+ - * / // % **``, parentheses and unary signs are evaluated;
names, attributes, calls and everything else are refused. Sizes are capped so no expression
can make the worker spin or run out of memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from ._types import Tool, ToolError

__all__ = ["CALCULATOR"]

_MAX_LENGTH = 1_000
_MAX_EXPONENT = 1_000
_MAX_INT_BITS = 4_096

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_REFUSED = {
    ast.Name: "names are not allowed",
    ast.Attribute: "attributes are not allowed",
    ast.Call: "function calls are not allowed",
    ast.Subscript: "subscripts are not allowed",
}


def evaluate(expression: str) -> Number:
    """Evaluate an arithmetic expression.

    Raises:
        ToolError: the expression is not plain arithmetic, or its result is out of range.
    """
    if len(expression) > _MAX_LENGTH:
        raise ToolError(f"expression is longer than {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
        return _checked(_eval(tree.body))
    except ToolError:
        raise
    except SyntaxError:
        raise ToolError("not a valid arithmetic expression") from None
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except (OverflowError, MemoryError):
        raise ToolError("result is too large") from None
    except RecursionError:
        raise ToolError("expression is nested too deeply") from None
    except ValueError as exc:  # e.g. a null byte in the source
        raise ToolError(f"not a valid arithmetic expression ({exc})") from None


def _eval(node: ast.AST) -> Number:
    if isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):
            raise ToolError(f"only numbers are allowed, not {type(node.value).__name__}")
        return _checked(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        elif isinstance(node.op, ast.Mult) and _bits(left) + _bits(right) > _MAX_INT_BITS + 1:
            raise OverflowError
        return _checked(_BINARY[type(node.op)](left, right))
    for kind, reason in _REFUSED.items():
        if isinstance(node, kind):
            raise ToolError(reason)
    raise ToolError(f"{type(node).__name__} is not allowed; use numbers, + - * / // % ** and parentheses")


def _check_power(base: Number, exponent: Number) -> None:
    if abs(exponent) > _MAX_EXPONENT:
        raise ToolError(f"exponent is larger than {_MAX_EXPONENT}")
    # |base| ** e has at least (bits(base) - 1) * e + 1 bits: refuse before computing it.
    if isinstance(exponent, int) and exponent > 0 and (_bits(base) - 1) * exponent > _MAX_INT_BITS:
        raise OverflowError


def _bits(value: Number) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _checked(value: Any) -> Number:
    if isinstance(value, complex):
        raise ToolError("result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise OverflowError
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise OverflowError
    return value  # type: ignore[no-any-return]


def _format(value: Number) -> str:
    return str(value) if isinstance(value, int) else format(value, ".12g")


def _calculator(arguments: dict[str, Any]) -> str:
    return _format(evaluate(arguments["expression"]))


CALCULATOR = Tool(
    name="calculator",
    description=(
        "Evaluate an arithmetic expression exactly. Supports numbers, + - * / // % ** "
        "(exponents up to 1000), parentheses and unary minus. Returns the result."
    ),
    parameters={
        "type": "object",
        "properties": {
            "expression": {
                "type": "string",
                "minLength": 1,
                "maxLength": _MAX_LENGTH,
                "description": "e.g. (12 + 30) * 2 / 7",
            }
        },
        "required": ["expression"],
        "additionalProperties": False,
    },
    fn=_calculator,
)
