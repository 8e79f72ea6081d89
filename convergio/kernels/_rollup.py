"""Group-by sums over columnar arrays: a numba-compiled kernel and its pure-Python twin.

Input: one int64 code column per grouping field (value ``i`` means "the i-th distinct
value"), a unit code column, and int64 quantity and cost columns (costs in integer
nano-EUR, so sums stay exact). Output: one row per distinct combination of codes, with
the sum of quantities per unit, the sum of costs and the number of rows.

The code columns are folded into one int64 key per row (mixed radix, compacted when
the radix product would overflow). Each key then gets a dense group id, from a
lookup table when the key space is small and from an open-addressing hash table
when it is not, and a last pass sums per group. The work is linear in the rows:
no sort.

numba is imported on the first call, not at import (cold start matters on Flex
Consumption). Compiled code is cached on disk under ``NUMBA_CACHE_DIR``; when no
writable cache location exists, the kernel is compiled in memory instead.

No request waits for the compiler (issue 22). Warm, the kernel beats the plain NumPy path
(``_rollup_numpy``) at every size, but compiling it costs 1.3 to 1.6 s and about 140 MiB in a
fresh process (0.3 to 0.6 s from a warm ``NUMBA_CACHE_DIR``), while NumPy rolls up 10,000
rows in under 1.5 ms and a million in 0.1 to 0.4 s (``python -m benchmarks.rollup_crossover``).
So ``group_sums`` takes the NumPy path until the kernels are ready; the first input of
``NUMBA_MIN_ROWS`` rows or more starts compiling them in a background thread (``warm_up``),
and every later call uses them. Processes that only ever roll up small inputs never load numba.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from ._jit import lazy_kernels

__all__ = [
    "NUMBA_MIN_ROWS",
    "Engine",
    "GroupSums",
    "check_columns",
    "group_sums",
    "group_sums_python",
    "warm_up",
]

NUMBA_MIN_ROWS: Final = 20_000
"""An input this large starts the background compile: below it NumPy takes about 1 to 3 ms per roll-up,
and saving that would take thousands of roll-ups to repay the compile (docs/performance.md)."""
Engine = Literal["auto", "numba", "numpy"]
_log = logging.getLogger("convergio.kernels")

Int64Array = npt.NDArray[np.int64]

_MULTIPLIER: Final = 0x5851F42D4C957F2D  # odd, < 2**63: int64 multiply wraps in the kernel
_KEY_LIMIT: Final = 1 << 62
_DENSE_MIN: Final = 1 << 16  # a key space this small always gets a direct lookup table ...
_DENSE_MAX: Final = 1 << 22  # ... and one larger than the rows (or this) is hashed


@dataclass(frozen=True)
class GroupSums:
    """Per-group sums.

    Attributes:
        first_row: For each group, the index of its first row (read its codes there).
        quantity: Shape ``(groups, units)``: summed quantity per group and unit code.
        cost: Summed cost per group.
        count: Rows per group.
    """

    first_row: Int64Array
    quantity: Int64Array
    cost: Int64Array
    count: Int64Array


def _factorize(keys: Int64Array) -> tuple[Int64Array, Int64Array]:  # pragma: no cover - compiled
    """Dense ids for non-negative int64 keys, in first-seen order, and each id's first row.

    Open addressing with linear probing and Fibonacci hashing; the table starts small
    and doubles when half full, so it stays the size of the groups, not of the rows.
    """
    n = keys.shape[0]
    bits = 10
    mask = (1 << bits) - 1
    slot_key = np.full(1 << bits, -1, np.int64)
    slot_id = np.zeros(1 << bits, np.int64)
    ids = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    groups = 0
    for i in range(n):
        key = keys[i]
        slot = ((key * _MULTIPLIER) >> (64 - bits)) & mask
        while slot_key[slot] != key and slot_key[slot] != -1:
            slot = (slot + 1) & mask
        if slot_key[slot] == key:
            ids[i] = slot_id[slot]
            continue
        slot_key[slot] = key
        slot_id[slot] = groups
        ids[i] = groups
        first[groups] = i
        groups += 1
        if 2 * groups > mask:  # half full: double the table and re-insert
            bits += 1
            mask = (1 << bits) - 1
            old_key, old_id = slot_key, slot_id
            slot_key = np.full(1 << bits, -1, np.int64)
            slot_id = np.zeros(1 << bits, np.int64)
            for j in range(old_key.shape[0]):
                if old_key[j] != -1:
                    slot = ((old_key[j] * _MULTIPLIER) >> (64 - bits)) & mask
                    while slot_key[slot] != -1:
                        slot = (slot + 1) & mask
                    slot_key[slot] = old_key[j]
                    slot_id[slot] = old_id[j]
    return ids, first[:groups].copy()


def _fold(keys: Int64Array, column: Int64Array, cardinality: int) -> int:  # pragma: no cover - compiled
    """``keys = keys * cardinality + column``, in place; returns how many codes are out of range."""
    bad = 0
    for i in range(keys.shape[0]):
        code = column[i]
        if code < 0 or code >= cardinality:
            bad += 1
        keys[i] = keys[i] * cardinality + code
    return bad


def _sums(
    ids: Int64Array, groups: int, units: Int64Array, n_units: int, quantity: Int64Array, cost: Int64Array
) -> tuple[Int64Array, Int64Array, Int64Array]:  # pragma: no cover - compiled
    """Quantity per (group, unit), cost per group and rows per group, for group ids in ``[0, groups)``."""
    quantity_sum = np.zeros((groups, n_units), np.int64)
    cost_sum = np.zeros(groups, np.int64)
    count = np.zeros(groups, np.int64)
    for i in range(ids.shape[0]):
        group = ids[i]
        quantity_sum[group, units[i]] += quantity[i]
        cost_sum[group] += cost[i]
        count[group] += 1
    return quantity_sum, cost_sum, count


def _dense_ids(keys: Int64Array, radix: int) -> tuple[Int64Array, Int64Array]:  # pragma: no cover - compiled
    """``_factorize`` for keys in a small ``[0, radix)``: a direct lookup table instead of a hash table."""
    n = keys.shape[0]
    slot_id = np.full(radix, -1, np.int64)
    ids = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    groups = 0
    for i in range(n):
        key = keys[i]
        group = slot_id[key]
        if group == -1:
            group = slot_id[key] = groups
            first[groups] = i
            groups += 1
        ids[i] = group
    return ids, first[:groups].copy()


_kernels = lazy_kernels(_fold, _factorize, _dense_ids, _sums)
"""The compiled kernels, built on first use (this is where numba is imported)."""


class _WarmUp:
    """Compiles the kernels once, in a daemon thread; ``ready`` is set when they can be called."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="convergio-numba-warm-up", daemon=True)
                self._thread.start()
            return self._thread

    def _run(self) -> None:
        try:  # one call per signature the product uses: the dense, hashed and folded paths
            tiny = np.zeros(4, np.int64)
            for cardinalities in ([2], [1 << 30], [1 << 31] * 3):
                group_sums([tiny] * len(cardinalities), cardinalities, tiny, 1, tiny, tiny, engine="numba")
        except Exception:  # numba missing or broken: the NumPy path serves every size
            _log.warning("numba kernels unavailable; usage roll-ups stay on NumPy", exc_info=True)
            return
        self.ready.set()


_WARM = _WarmUp()


def warm_up() -> threading.Thread:
    """Compile the roll-up kernels (or load them from ``NUMBA_CACHE_DIR``) in a background thread."""
    return _WARM.start()


def check_columns(
    codes: Sequence[Int64Array], cardinalities: Sequence[int], n_units: int, columns: Sequence[Int64Array]
) -> None:
    units = columns[0]
    n = units.shape[0]
    for column in (*codes, *columns):
        if column.shape != (n,) or column.dtype != np.int64:
            raise ValueError("every column must be int64 and of the same length")
    if len(codes) != len(cardinalities):
        raise ValueError("codes and cardinalities must have the same length")
    if n_units < 1:
        raise ValueError("n_units must be >= 1")
    if any(cardinality < 1 for cardinality in cardinalities):
        raise ValueError("cardinalities must be >= 1")
    if n and (units.min() < 0 or units.max() >= n_units):
        raise ValueError("unit codes must lie in [0, n_units)")


def group_sums(
    codes: Sequence[Int64Array],
    cardinalities: Sequence[int],
    units: Int64Array,
    n_units: int,
    quantity: Int64Array,
    cost: Int64Array,
    *,
    engine: Engine = "auto",
) -> GroupSums:
    """Sum quantity (per unit) and cost per distinct combination of codes, compiled with numba.

    The caller keeps the sums in range: int64 additions wrap silently in compiled code.
    ``engine="auto"`` runs the compiled kernel once ``warm_up`` has compiled it, and the NumPy
    path (the same result) until then; an input of ``NUMBA_MIN_ROWS`` rows or more starts the
    warm-up. ``"numba"`` compiles on the spot if need be; ``"numpy"`` never compiles.

    Args:
        codes: One int64 column per grouping field (none: a single group).
        cardinalities: For each column, the number of distinct codes (codes lie in ``[0, c)``).
        units: Unit code per row, in ``[0, n_units)``.
        n_units: The number of units.
        quantity: Quantity per row.
        cost: Cost per row (integer nano-EUR).

    Returns:
        The sums, one entry per group, in first-seen order.

    Raises:
        ValueError: If the shapes or code ranges are inconsistent.
    """
    n = units.shape[0]
    if engine == "auto":
        engine = "numba" if _WARM.ready.is_set() else "numpy"
        if engine == "numpy" and n >= NUMBA_MIN_ROWS:
            warm_up()
    if engine == "numpy":
        from ._rollup_numpy import group_sums_numpy

        return group_sums_numpy(codes, cardinalities, units, n_units, quantity, cost)
    check_columns(codes, cardinalities, n_units, (units, quantity, cost))
    fold, factorize, dense_ids, sums = _kernels()
    keys = np.zeros(n, np.int64)
    radix = 1
    for column, cardinality in zip(codes, cardinalities, strict=True):
        if radix * cardinality > _KEY_LIMIT:  # compact what we have into dense ids first
            keys, first = factorize(keys)
            radix = len(first)
        if fold(keys, column, cardinality):
            raise ValueError("codes must lie in [0, cardinality)")
        radix *= cardinality
    if radix <= min(max(n, _DENSE_MIN), _DENSE_MAX):
        ids, first = dense_ids(keys, radix)
    else:
        ids, first = factorize(keys)
    return GroupSums(first, *sums(ids, len(first), units, n_units, quantity, cost))


def group_sums_python(
    codes: Sequence[Sequence[int]],
    units: Sequence[int],
    n_units: int,
    quantity: Sequence[int],
    cost: Sequence[int],
) -> tuple[list[tuple[int, ...]], list[list[int]], list[int], list[int]]:
    """The same sums in plain Python over lists: the kernel's reference and benchmark baseline.

    Args:
        codes: One code list per grouping field.
        units: Unit code per row.
        n_units: The number of units.
        quantity: Quantity per row.
        cost: Cost per row (integer nano-EUR).

    Returns:
        ``(keys, quantity, cost, count)`` per group in first-seen order, where ``keys``
        are the groups' code tuples and ``quantity`` rows are indexed by unit code.
    """
    totals: dict[tuple[int, ...], list[int]] = {}
    rows = zip(*codes, strict=True) if codes else (() for _ in units)
    for key, unit, amount, price in zip(rows, units, quantity, cost, strict=True):
        total = totals.get(key)
        if total is None:
            total = totals[key] = [0] * (n_units + 2)
        total[unit] += amount
        total[n_units] += price
        total[n_units + 1] += 1
    keys = list(totals)
    sums = list(totals.values())
    return (
        keys,
        [total[:n_units] for total in sums],
        [total[n_units] for total in sums],
        [total[n_units + 1] for total in sums],
    )
