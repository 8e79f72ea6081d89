"""Intent routing scores: hashed byte-trigram TF-IDF cosine, a numba kernel and its pure-Python twin.

Each candidate is described by one or more documents (its description, its examples).
A text is lower-cased, its whitespace collapsed and padded with one space each side,
then encoded as UTF-8; every window of ``NGRAM`` bytes is hashed (32-bit FNV-1a) into
one of ``2**BITS`` buckets. A document's vector holds ``(1 + log tf) * idf`` per bucket,
L2-normalised, with ``idf = 1 + log((1 + documents) / (1 + df))`` over the documents of
the index. A request gets the same treatment (a bucket no document has gets the
largest idf) and a candidate's score is the best cosine of the request with any of its
documents, so in ``[0, 1]``.

The documents are indexed once (posting lists per bucket); scoring one request walks
only the posting lists of its own buckets. Ties go to the lower candidate index, so a
choice is a pure function of the texts. The twin runs the same arithmetic in the same
order in plain Python: it is the tests' oracle and the benchmark's baseline.

numba is imported on the first call, not at import (see ``_jit``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ._jit import lazy_kernels

__all__ = ["BITS", "NGRAM", "RoutingIndex", "route_scores_python"]

NGRAM: Final = 3
BITS: Final = 18
_SIZE: Final = 1 << BITS
_FNV_OFFSET: Final = 2166136261
_FNV_PRIME: Final = 16777619

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
UInt8Array = npt.NDArray[np.uint8]


def _normalise(text: str) -> bytes:
    return (" " + " ".join(text.lower().split()) + " ").encode()


def _encode(texts: Sequence[str]) -> tuple[UInt8Array, Int64Array]:
    parts = [_normalise(text) for text in texts]
    offsets = np.zeros(len(parts) + 1, np.int64)
    offsets[1:] = np.cumsum([len(part) for part in parts])
    return np.frombuffer(b"".join(parts), np.uint8), offsets


def _hash_rows(
    data: UInt8Array, offsets: Int64Array, n: int, mask: int
) -> tuple[Int64Array, Int64Array, Int64Array]:  # pragma: no cover - compiled
    """Per text, its distinct buckets (ascending) and their counts, as CSR rows."""
    rows = offsets.shape[0] - 1
    total = 0
    for r in range(rows):
        total += max(0, offsets[r + 1] - offsets[r] - n + 1)
    indptr = np.zeros(rows + 1, np.int64)
    buckets = np.empty(total, np.int64)
    counts = np.empty(total, np.int64)
    k = 0
    for r in range(rows):
        start = offsets[r]
        windows = max(0, offsets[r + 1] - start - n + 1)
        hashes = np.empty(windows, np.int64)
        for i in range(windows):
            h = _FNV_OFFSET
            for j in range(n):
                h = ((h ^ int(data[start + i + j])) * _FNV_PRIME) & 0xFFFFFFFF
            hashes[i] = h & mask
        hashes.sort()
        for i in range(windows):
            if i > 0 and hashes[i] == hashes[i - 1]:
                counts[k - 1] += 1
            else:
                buckets[k] = hashes[i]
                counts[k] = 1
                k += 1
        indptr[r + 1] = k
    return indptr, buckets[:k].copy(), counts[:k].copy()


def _weigh(
    indptr: Int64Array, buckets: Int64Array, counts: Int64Array, idf: Float64Array
) -> Float64Array:  # pragma: no cover - compiled
    """``(1 + log tf) * idf`` per entry, each row scaled to unit length."""
    weights = np.empty(buckets.shape[0], np.float64)
    for r in range(indptr.shape[0] - 1):
        norm = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            w = (1.0 + np.log(counts[p])) * idf[buckets[p]]
            weights[p] = w
            norm += w * w
        if norm > 0.0:
            scale = 1.0 / np.sqrt(norm)
            for p in range(indptr[r], indptr[r + 1]):
                weights[p] *= scale
    return weights


def _idf(indptr: Int64Array, buckets: Int64Array, size: int) -> Float64Array:  # pragma: no cover - compiled
    documents = indptr.shape[0] - 1
    df = np.zeros(size, np.int64)
    for p in range(buckets.shape[0]):
        df[buckets[p]] += 1
    idf = np.empty(size, np.float64)
    for b in range(size):
        idf[b] = 1.0 + np.log((1.0 + documents) / (1.0 + df[b]))
    return idf


def _postings(
    indptr: Int64Array, buckets: Int64Array, weights: Float64Array, size: int
) -> tuple[Int64Array, Int64Array, Float64Array]:  # pragma: no cover - compiled
    """Invert document rows into posting lists per bucket (documents in ascending order)."""
    start = np.zeros(size + 1, np.int64)
    for p in range(buckets.shape[0]):
        start[buckets[p] + 1] += 1
    for b in range(size):
        start[b + 1] += start[b]
    fill = start[:-1].copy()
    docs = np.empty(buckets.shape[0], np.int64)
    values = np.empty(buckets.shape[0], np.float64)
    for d in range(indptr.shape[0] - 1):
        for p in range(indptr[d], indptr[d + 1]):
            slot = fill[buckets[p]]
            docs[slot] = d
            values[slot] = weights[p]
            fill[buckets[p]] += 1
    return start, docs, values


def _top_k(
    q_indptr: Int64Array,
    q_buckets: Int64Array,
    q_weights: Float64Array,
    start: Int64Array,
    docs: Int64Array,
    values: Float64Array,
    owners: Int64Array,
    candidates: int,
    k: int,
) -> tuple[Int64Array, Float64Array]:  # pragma: no cover - compiled
    """Per request, the ``k`` best candidates (index, score), best first; ``-1`` pads."""
    requests = q_indptr.shape[0] - 1
    best = np.full((requests, k), -1, np.int64)
    best_score = np.zeros((requests, k), np.float64)
    acc = np.zeros(owners.shape[0], np.float64)
    seen_doc = np.full(owners.shape[0], -1, np.int64)
    touched = np.empty(owners.shape[0], np.int64)
    score = np.zeros(candidates, np.float64)
    seen_cand = np.full(candidates, -1, np.int64)
    hit = np.empty(candidates, np.int64)
    for r in range(requests):
        n_touched = 0
        for p in range(q_indptr[r], q_indptr[r + 1]):
            b = q_buckets[p]
            w = q_weights[p]
            for j in range(start[b], start[b + 1]):
                d = docs[j]
                if seen_doc[d] != r:
                    seen_doc[d] = r
                    acc[d] = 0.0
                    touched[n_touched] = d
                    n_touched += 1
                acc[d] += w * values[j]
        n_hit = 0
        for t in range(n_touched):
            d = touched[t]
            c = owners[d]
            if seen_cand[c] != r:
                seen_cand[c] = r
                score[c] = acc[d]
                hit[n_hit] = c
                n_hit += 1
            elif acc[d] > score[c]:
                score[c] = acc[d]
        for h in range(n_hit):
            c = hit[h]
            s = score[c]
            i = k
            while i > 0 and (
                best[r, i - 1] == -1
                or s > best_score[r, i - 1]
                or (s == best_score[r, i - 1] and c < best[r, i - 1])
            ):
                i -= 1
            if i < k:
                for m in range(k - 1, i, -1):
                    best[r, m] = best[r, m - 1]
                    best_score[r, m] = best_score[r, m - 1]
                best[r, i] = c
                best_score[r, i] = s
    return best, best_score


_kernels = lazy_kernels(_hash_rows, _idf, _weigh, _postings, _top_k)


@dataclass(frozen=True)
class RoutingIndex:
    """Candidates' documents, vectorised and indexed once; score many requests against them.

    Attributes:
        candidates: How many candidates (owners lie in ``[0, candidates)``).
        documents: How many documents.
    """

    candidates: int
    documents: int
    _owners: Int64Array
    _idf: Float64Array
    _postings: tuple[Int64Array, Int64Array, Float64Array]

    @classmethod
    def build(cls, documents: Sequence[str], owners: Sequence[int], candidates: int) -> RoutingIndex:
        """Index ``documents``; ``owners[i]`` is the candidate document ``i`` describes.

        Raises:
            ValueError: If the lengths differ or an owner is outside ``[0, candidates)``.
        """
        owner = _check_owners(documents, owners, candidates)
        hash_rows, idf_of, weigh, postings, _ = _kernels()
        data, offsets = _encode(documents)
        indptr, buckets, counts = hash_rows(data, offsets, NGRAM, _SIZE - 1)
        idf = idf_of(indptr, buckets, _SIZE)
        weights = weigh(indptr, buckets, counts, idf)
        return cls(candidates, len(documents), owner, idf, postings(indptr, buckets, weights, _SIZE))

    def top_k(self, requests: Sequence[str], k: int) -> tuple[Int64Array, Float64Array]:
        """The ``k`` best candidates per request, best first (ties: lower index first).

        Returns:
            ``(indices, scores)``, each of shape ``(len(requests), k)``; candidates that
            share no trigram with a request are left out (index ``-1``, score 0).

        Raises:
            ValueError: If ``k < 1``.
        """
        if k < 1:
            raise ValueError("k must be >= 1")
        hash_rows, _, weigh, _, top_k = _kernels()
        data, offsets = _encode(requests)
        indptr, buckets, counts = hash_rows(data, offsets, NGRAM, _SIZE - 1)
        weights = weigh(indptr, buckets, counts, self._idf)
        start, docs, values = self._postings
        return top_k(indptr, buckets, weights, start, docs, values, self._owners, self.candidates, k)  # type: ignore[no-any-return]


def _check_owners(documents: Sequence[str], owners: Sequence[int], candidates: int) -> Int64Array:
    owner = np.asarray(owners, np.int64)
    if owner.shape != (len(documents),):
        raise ValueError("documents and owners must have the same length")
    if candidates < 0 or (owner.size and (owner.min() < 0 or owner.max() >= candidates)):
        raise ValueError("owners must lie in [0, candidates)")
    return owner


# -- the pure-Python twin -----------------------------------------------------------------


def _counts_python(text: str) -> list[tuple[int, int]]:
    raw = _normalise(text)
    counts: dict[int, int] = {}
    for i in range(len(raw) - NGRAM + 1):
        h = _FNV_OFFSET
        for byte in raw[i : i + NGRAM]:
            h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
        bucket = h & (_SIZE - 1)
        counts[bucket] = counts.get(bucket, 0) + 1
    return sorted(counts.items())


def _vector_python(counts: list[tuple[int, int]], idf: Callable[[int], float]) -> list[tuple[int, float]]:
    weights = [(bucket, (1.0 + math.log(count)) * idf(bucket)) for bucket, count in counts]
    norm = 0.0
    for _, w in weights:
        norm += w * w
    if norm == 0.0:
        return weights
    scale = 1.0 / math.sqrt(norm)
    return [(bucket, w * scale) for bucket, w in weights]


def route_scores_python(
    documents: Sequence[str], owners: Sequence[int], candidates: int, requests: Sequence[str], k: int
) -> list[list[tuple[int, float]]]:
    """``RoutingIndex.build(documents, owners, candidates).top_k(requests, k)`` in plain Python.

    Returns:
        Per request, up to ``k`` ``(candidate, score)`` pairs, best first.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    _check_owners(documents, owners, candidates)
    rows = [_counts_python(document) for document in documents]
    df: dict[int, int] = {}
    for row in rows:
        for bucket, _ in row:
            df[bucket] = df.get(bucket, 0) + 1
    n = len(documents)

    def idf(bucket: int) -> float:
        return 1.0 + math.log((1.0 + n) / (1.0 + df.get(bucket, 0)))

    postings: dict[int, list[tuple[int, float]]] = {}
    for d, row in enumerate(rows):
        for bucket, w in _vector_python(row, idf):
            postings.setdefault(bucket, []).append((d, w))
    ranked = []
    for request in requests:
        acc: dict[int, float] = {}
        for bucket, w in _vector_python(_counts_python(request), idf):
            for d, v in postings.get(bucket, ()):
                acc[d] = acc.get(d, 0.0) + w * v
        score: dict[int, float] = {}
        for d, s in acc.items():
            c = owners[d]
            if c not in score or s > score[c]:
                score[c] = s
        ranked.append(sorted(score.items(), key=lambda item: (-item[1], item[0]))[:k])
    return ranked
