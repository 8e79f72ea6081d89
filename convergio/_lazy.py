"""Lazy package attributes (PEP 562): a package's public names, imported on first use.

The Functions worker imports ``function_app`` to index the app at every cold start, and the
API's route modules name a few things from packages whose other modules pull wasmtime,
cryptography, the providers or pydantic models (issue 22). A package that declares its names
with :func:`lazy_exports` keeps its public surface (``from convergio.graph import GraphSpec``
still works, and type checkers see the ``TYPE_CHECKING`` imports) while importing a submodule
only when one of its names is first asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, which exports ``{submodule: names}``.

    Args:
        package: the package's ``__name__``.
        exports: each submodule, relative (``"._spec"``), and the public names it defines.

    Returns:
        The module-level ``__getattr__`` and ``__dir__`` to assign in the package. A name is
        imported from its submodule once, then set on the package, so later lookups are plain
        attribute reads.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # __import__, not importlib.import_module: the C path, which -X importtime reports
        value = getattr(__import__(package + module, fromlist=[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
