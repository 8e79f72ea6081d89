"""numba-compiled hot paths over columnar arrays, each with a pure-Python twin.

Pure: numpy and numba only (no I/O, no Azure SDK). numba itself is imported on a
kernel's first call, so importing this package costs only numpy.
"""

from ._rollup import GroupSums, group_sums, group_sums_python

__all__ = ["GroupSums", "group_sums", "group_sums_python"]
