"""Roll-ups: the numba kernel against the plain-Python oracle, exact to the cent and beyond."""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from convergio.kernels import group_sums, group_sums_python
from convergio.kernels._rollup import Engine
from convergio.metering import GROUP_BY, GroupBy, UsageColumns, rollup, rollup_reference
from tests._helpers import ROOT
from tests.metering._samples import random_records, record

ALL_GROUPINGS = [
    combo for size in range(len(GROUP_BY) + 1) for combo in itertools.combinations(GROUP_BY, size)
]


@pytest.fixture(scope="module")
def integral() -> UsageColumns:
    return UsageColumns.from_records(random_records(21, 3000))


@pytest.fixture(scope="module")
def fractional() -> list:
    return random_records(22, 3000, fractional=True)


@pytest.mark.parametrize("group_by", ALL_GROUPINGS, ids="-".join)
def test_rollup_equals_the_oracle_for_every_grouping(group_by: tuple[GroupBy, ...], fractional: list) -> None:
    rows = rollup(fractional, group_by)
    assert rows == rollup_reference(fractional, group_by)
    assert sum(row.cost for row in rows) == sum(r.cost for r in fractional)  # exact Decimal, no drift
    assert sum(row.count for row in rows) == len(fractional)


@pytest.mark.parametrize("group_by", ALL_GROUPINGS[::3], ids="-".join)
def test_rollup_of_columns_equals_the_oracle_reversed_order(
    group_by: tuple[GroupBy, ...], integral: UsageColumns
) -> None:
    records = random_records(21, 3000)
    reversed_by = tuple(reversed(group_by))
    assert integral.quantity_places == 0
    assert rollup(integral, reversed_by) == rollup_reference(records, reversed_by)


def test_rows_carry_exact_totals() -> None:
    records = [
        record(quantity=1000, cost=Decimal("0.000138")),
        record(unit="output_tokens", quantity=3, cost=Decimal("0.00000166")),
        record(run_id="run-2", unit="audio_seconds", quantity=Decimal("0.25"), cost=Decimal("0.00002300")),
        record(
            run_id="run-2",
            attempt=2,
            unit="audio_seconds",
            quantity=Decimal("0.75"),
            cost=Decimal("0.00006900"),
        ),
    ]
    (total,) = rollup(records, [])
    assert total.keys == () and total.count == 4
    assert total.quantity == {"input_tokens": 1000, "output_tokens": 3, "audio_seconds": 1}
    assert isinstance(total.quantity["audio_seconds"], int)
    assert total.cost == Decimal("0.00023166")
    by_run = rollup(records, ["run", "unit"])
    assert [row.keys for row in by_run] == [
        ("run-1", "input_tokens"),
        ("run-1", "output_tokens"),
        ("run-2", "audio_seconds"),
    ]
    assert by_run[2].to_json(["run", "unit"]) == {
        "run": "run-2",
        "unit": "audio_seconds",
        "quantity": {"audio_seconds": 1},
        "cost": "0.00009200",
        "count": 2,
    }
    half = rollup(records[2:3], ["day", "model"])[0]
    assert half.keys == ("2026-11-24", "openai:gpt-4o-mini")
    assert half.to_json(["day", "model"])["quantity"] == {"audio_seconds": "0.25"}


def test_empty_input_and_bad_groupings() -> None:
    assert rollup([], ["tenant"]) == rollup_reference([], ["tenant"]) == []
    with pytest.raises(ValueError, match="unknown key 'week'"):
        rollup([record()], ["week"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="'run' given twice"):
        rollup_reference([record()], ["run", "run"])


def test_sums_that_could_overflow_int64_stay_exact() -> None:
    big = [
        record(attempt=i, unit="audio_seconds", quantity=Decimal("999999999999.5"), unit_price=0, cost=0)
        for i in range(20)
    ]
    big += [record(attempt=i, cost=Decimal("999999999.99999999")) for i in range(20)]
    assert rollup(big, ["unit"]) == rollup_reference(big, ["unit"])
    assert rollup(big, [])[0].quantity["audio_seconds"] == Decimal("19999999999990")


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_the_kernel_matches_its_python_twin_on_dense_hashed_and_folded_keys(engine: Engine) -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    units = rng.integers(0, 4, n)
    quantity = rng.integers(0, 10**9, n)
    cost = rng.integers(0, 10**12, n)
    cases = [
        [3, 5, 7],  # dense: 105 slots
        [500, 400],  # 200,000 slots > rows: hashed
        [2**31, 2**31, 2**31],  # the radix product overflows int64: folded on the way
        [],  # one group
    ]
    for cardinalities in cases:
        codes = [rng.integers(0, min(c, 300), n) for c in cardinalities]
        if cardinalities and cardinalities[0] == 2**31:
            codes = [rng.integers(0, 3, n), rng.integers(2**31 - 40, 2**31, n), rng.integers(0, 2**31, n)]
        sums = group_sums(codes, cardinalities, units, 4, quantity, cost, engine=engine)
        keys, quantities, costs, counts = group_sums_python(
            [c.tolist() for c in codes], units.tolist(), 4, quantity.tolist(), cost.tolist()
        )
        got = {
            tuple(int(c[row]) for c in codes): (q, k, m)
            for row, q, k, m in zip(
                sums.first_row.tolist(),
                sums.quantity.tolist(),
                sums.cost.tolist(),
                sums.count.tolist(),
                strict=True,
            )
        }
        assert got == {key: (q, k, m) for key, q, k, m in zip(keys, quantities, costs, counts, strict=True)}


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_the_kernel_checks_its_inputs(engine: Engine) -> None:
    one = np.zeros(3, np.int64)
    sums = functools.partial(group_sums, engine=engine)
    with pytest.raises(ValueError, match="codes must lie in"):
        sums([np.array([0, 1, 2], np.int64)], [2], one, 4, one, one)
    with pytest.raises(ValueError, match="codes must lie in"):
        sums([np.array([0, -1, 0], np.int64)], [2], one, 4, one, one)
    with pytest.raises(ValueError, match="unit codes"):
        sums([], [], np.array([0, 4, 0], np.int64), 4, one, one)
    with pytest.raises(ValueError, match="int64 and of the same length"):
        sums([np.zeros(2, np.int64)], [1], one, 4, one, one)
    with pytest.raises(ValueError, match="int64 and of the same length"):
        sums([], [], one, 4, np.zeros(3, np.float64), one)
    with pytest.raises(ValueError, match="same length"):
        sums([one], [], one, 4, one, one)


def test_a_small_roll_up_never_compiles_and_a_large_one_compiles_in_the_background() -> None:
    """No request waits for numba (issue 22): small inputs take NumPy and start nothing."""
    probe = (
        "import sys, numpy as np\n"
        "from convergio.kernels import _rollup\n"
        "one = np.zeros(100, np.int64)\n"
        "_rollup.group_sums([one], [3], one, 4, one, one)\n"
        "print('numba' in sys.modules, _rollup._WARM._thread is None)\n"
        "big = np.zeros(_rollup.NUMBA_MIN_ROWS, np.int64)\n"
        "_rollup.group_sums([big], [3], big, 4, big, big)\n"
        "_rollup._WARM._thread.join()\n"
        "print(_rollup._WARM.ready.is_set())\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tempfile.mkdtemp()))}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True", "True"]


def test_compiled_kernels_are_cached_in_numba_cache_dir(tmp_path: Path) -> None:
    # A fresh process: in this one, an earlier test may have warmed the kernels already (from
    # another cache directory), and warming twice writes nothing.
    probe = "from convergio.kernels._rollup import warm_up\nwarm_up().join()\n"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, check=True, timeout=300)
    assert list(tmp_path.rglob("*.nbi")) and list(tmp_path.rglob("*.nbc"))


def test_importing_metering_loads_neither_numpy_numba_nor_azure() -> None:
    probe = (
        "import sys, convergio.metering, convergio.metering._cosmos\n"
        "heavy = [m for m in ('numpy', 'numba', 'azure.cosmos', 'azure.identity') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    probe = "import sys, convergio.kernels\nprint('numba' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
