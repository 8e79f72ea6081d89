"""Routing scores: the numba kernel against its pure-Python twin, and the properties a router relies on."""

from __future__ import annotations

import random

import numpy as np
import pytest

from convergio.kernels import RoutingIndex, route_scores_python

WORDS = [
    "fraction",
    "algebra",
    "essay",
    "grammar",
    "plant",
    "sunlight",
    "volcano",
    "river",
    "history",
    "war",
    "poem",
    "rhyme",
    "atom",
    "energy",
    "map",
    "country",
    "music",
    "rhythm",
    "code",
    "loop",
    "number",
    "angle",
    "triangle",
    "cell",
    "water",
    "rain",
    "éclair",
    "naïve",
    "数学",
]


def texts(rng: random.Random, count: int, low: int = 1, high: int = 12) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(low, high))) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_kernel_equals_the_python_twin(seed: int) -> None:
    rng = random.Random(seed)
    candidates = 40
    owners = sorted(rng.randrange(candidates) for _ in range(120))
    documents = texts(rng, len(owners))
    requests = [*texts(rng, 60), "", "   ", "x"]
    k = rng.choice([1, 3, 7, candidates])
    best, scores = RoutingIndex.build(documents, owners, candidates).top_k(requests, k)
    expected = route_scores_python(documents, owners, candidates, requests, k)
    assert best.shape == scores.shape == (len(requests), k)
    for row, want in enumerate(expected):
        got = [(int(i), float(s)) for i, s in zip(best[row], scores[row], strict=True) if i >= 0]
        assert [i for i, _ in got] == [i for i, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], rtol=1e-12, atol=0)
        assert all(i == -1 for i in best[row][len(want) :])


def test_a_request_equal_to_a_document_scores_one_and_ranks_first() -> None:
    documents = ["add and subtract fractions", "write a persuasive essay", "the water cycle and rain"]
    index = RoutingIndex.build(documents, [0, 1, 2], 3)
    best, scores = index.top_k(["Write a  PERSUASIVE essay"], 3)  # case and spacing do not matter
    assert best[0][0] == 1 and scores[0][0] == pytest.approx(1.0)
    assert 0 <= scores[0][-1] <= scores[0][0]


def test_a_candidate_scores_its_best_document_and_ties_go_to_the_lower_index() -> None:
    documents = ["photosynthesis in plants", "volcano eruptions", "photosynthesis in plants"]
    best, scores = RoutingIndex.build(documents, [1, 1, 0], 2).top_k(["photosynthesis in plants"], 2)
    assert best[0].tolist() == [0, 1] and scores[0][0] == pytest.approx(scores[0][1])


def test_a_request_sharing_nothing_matches_no_candidate() -> None:
    best, scores = RoutingIndex.build(["fractions"], [0], 1).top_k(["zz", ""], 1)
    assert best.tolist() == [[-1], [-1]] and scores.tolist() == [[0.0], [0.0]]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="owners must lie"):
        RoutingIndex.build(["a"], [1], 1)
    with pytest.raises(ValueError, match="same length"):
        RoutingIndex.build(["a", "b"], [0], 1)
    with pytest.raises(ValueError, match="k must be"):
        RoutingIndex.build(["a"], [0], 1).top_k(["a"], 0)
    with pytest.raises(ValueError, match="k must be"):
        route_scores_python(["a"], [0], 1, ["a"], 0)
