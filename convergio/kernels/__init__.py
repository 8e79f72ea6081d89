"""numba-compiled hot paths over columnar arrays, each with a pure-Python twin.

Pure: numpy and numba only (no I/O, no Azure SDK). numba itself is imported on a
kernel's first call, so importing this package costs only numpy.
"""

from ._rollup import GroupSums, group_sums, group_sums_python
from ._routing import RoutingIndex, route_scores_python

__all__ = ["GroupSums", "RoutingIndex", "group_sums", "group_sums_python", "route_scores_python"]
