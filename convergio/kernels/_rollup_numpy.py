"""The group-by sums of ``_rollup`` in plain NumPy: no compilation, for small inputs.

numba's kernel wins on large inputs, but its first call compiles for about 1.7 s (and 220 MiB)
and even a warm call has a fixed cost; below ``NUMBA_MIN_ROWS`` rows (measured:
``python -m benchmarks.rollup_crossover``) this path is as fast or faster, and it never
compiles, so a usage roll-up in a request does not wait for LLVM (issue 22).

Same contract as ``group_sums``: groups in first-seen order, exact int64 sums (``np.add.at``
on int64, never float weights), the same input checks and errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from ._rollup import GroupSums, Int64Array

__all__ = ["group_sums_numpy"]

_KEY_LIMIT: Final = 1 << 62


def group_sums_numpy(
    codes: Sequence[Int64Array],
    cardinalities: Sequence[int],
    units: Int64Array,
    n_units: int,
    quantity: Int64Array,
    cost: Int64Array,
) -> GroupSums:
    """``group_sums`` without numba: sort-based grouping (``np.unique``), then ``np.add.at``.

    Raises:
        ValueError: If the shapes or code ranges are inconsistent (as ``group_sums``).
    """
    from ._rollup import GroupSums, check_columns

    n = units.shape[0]
    check_columns(codes, cardinalities, n_units, (units, quantity, cost))
    keys = np.zeros(n, np.int64)
    radix = 1
    for column, cardinality in zip(codes, cardinalities, strict=True):
        if n and (int(column.min()) < 0 or int(column.max()) >= cardinality):
            raise ValueError("codes must lie in [0, cardinality)")
        if radix * cardinality > _KEY_LIMIT:  # compact what we have into dense ids first
            _, keys = np.unique(keys, return_inverse=True)
            radix = int(keys.max()) + 1 if n else 1
        keys = keys * cardinality + column
        radix *= cardinality
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # groups in first-seen order, as the kernel gives them
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order), dtype=order.dtype)
    ids = rank[inverse.reshape(-1)].astype(np.int64, copy=False)
    groups = len(order)
    quantity_sum = np.zeros(groups * n_units, np.int64)
    np.add.at(quantity_sum, ids * n_units + units, quantity)
    cost_sum = np.zeros(groups, np.int64)
    np.add.at(cost_sum, ids, cost)
    count = np.bincount(ids, minlength=groups).astype(np.int64)
    first_row = first[order].astype(np.int64, copy=False)
    return GroupSums(first_row, quantity_sum.reshape(groups, n_units), cost_sum, count)
