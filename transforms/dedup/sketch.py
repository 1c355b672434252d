"""Pure near-duplicate logic (no Beam): shingles, MinHash, LSH band keys, compact sketches and their comparison.

Everything here is deterministic across processes and machines (no ``hash()``, fixed seeds), so two
workers compute the same band keys and sketches for the same text.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

import numpy as np

from transforms.parse.article import normalize_text

__all__ = [
    "SketchParams",
    "Sketch",
    "Similarity",
    "content_key",
    "words",
    "shingle_hashes",
    "minhash_signature",
    "band_keys",
    "exact_band_key",
    "make_sketch",
    "Analysis",
    "analyze",
    "compare",
    "is_duplicate",
]

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


@dataclass(frozen=True)
class SketchParams:
    """How texts are shingled, signed, banded and compared (the thresholds were chosen by
    measurement: docs/dedup.md, bench/dedup_variants.py)."""

    shingle_words: int = 3
    bands: int = 20
    rows: int = 2
    bottom_k: int = 64
    lead_shingles: int = 48
    max_numbers: int = 24
    seed: int = 20260411
    # Verification: a candidate is a copy when all three hold.
    min_containment: float = 0.40
    min_lead: float = 0.25
    min_numbers: float = 0.50
    min_numbers_count: int = 3  # the number check applies when both texts carry at least this many

    def __post_init__(self):
        for name in ("shingle_words", "bands", "rows", "bottom_k", "lead_shingles"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("min_containment", "min_lead", "min_numbers"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


@dataclass(frozen=True)
class Sketch:
    """What verification needs of one article, about 0.5 KB packed (``to_bytes``).

    ``size``: distinct shingles; ``bottom``: the ``bottom_k`` smallest 32-bit shingle hashes
    (sorted); ``lead``: distinct hashes of the first ``lead_shingles`` shingles; ``numbers``:
    hashes of the first distinct number tokens, in text order.
    """

    size: int
    bottom: tuple[int, ...]
    lead: tuple[int, ...]
    numbers: tuple[int, ...]

    def to_bytes(self) -> bytes:
        parts = (self.bottom, self.lead, self.numbers)
        header = struct.pack("<IHHH", self.size, *(len(p) for p in parts))
        return header + b"".join(np.asarray(p, dtype="<u4").tobytes() for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Sketch":
        size, *lengths = struct.unpack_from("<IHHH", data)
        values = np.frombuffer(data, dtype="<u4", offset=10).tolist()
        parts, start = [], 0
        for length in lengths:
            parts.append(tuple(values[start:start + length]))
            start += length
        return cls(size, *parts)


@dataclass(frozen=True)
class Similarity:
    containment: float  # |A ∩ B| / min(|A|, |B|), estimated from the bottom-k sketches
    jaccard: float  # |A ∩ B| / |A ∪ B|, same estimate
    lead: float  # share of the shorter lead window found in the other's lead window
    numbers: float | None  # share of the shorter list of number tokens found in the other; None if too few


def content_key(text: str) -> str:
    """Equal for texts that are the same after normalization (case, Unicode form, quotes, whitespace)."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()[:32]


def words(text: str) -> list[str]:
    """Word tokens of the normalized text; punctuation and layout do not count."""
    return _WORD.findall(normalize_text(text))


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


# A memo of a pure function (the same in every process), bounded; not state. News keeps bringing new
# words (names, figures): at 2**19 entries the memo held ~80 MB before it was cleared, the largest
# growth of a long run (tracemalloc, BENCHMARKS.md Reliability); 2**16 words hold a language's common
# words in ~10 MB.
_WORD_HASHES: dict[str, int] = {}
_MAX_MEMO = 1 << 16


def _word_hashes(tokens: list[str]) -> np.ndarray:
    memo = _WORD_HASHES
    if len(memo) > _MAX_MEMO:
        memo.clear()
    out = []
    for token in tokens:
        value = memo.get(token)
        if value is None:
            value = memo[token] = _word_hash(token)
        out.append(value)
    return np.array(out, dtype=np.uint64)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, vectorised (wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(tokens: list[str], shingle_words: int) -> np.ndarray:
    """64-bit hashes of the word k-grams in text order (one shingle of all words when fewer than k)."""
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    hashed = _word_hashes(tokens)
    k = min(shingle_words, len(hashed))
    count = len(hashed) - k + 1
    combined = np.zeros(count, dtype=np.uint64)
    for offset in range(k):
        combined = _mix64(combined ^ hashed[offset:offset + count])
    return combined


def _permutations(params: SketchParams) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(params.seed)
    a = rng.integers(1, 2**63, size=params.num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=params.num_perm, dtype=np.uint64)
    return a, b


_PERMUTATION_CACHE: dict[SketchParams, tuple[np.ndarray, np.ndarray]] = {}


def minhash_signature(shingles: np.ndarray, params: SketchParams) -> np.ndarray:
    """``num_perm`` minima of multiply-shift permutations of the shingle hashes (uint64 < 2**32)."""
    perms = _PERMUTATION_CACHE.get(params)
    if perms is None:
        perms = _PERMUTATION_CACHE.setdefault(params, _permutations(params))
    a, b = perms
    if len(shingles) == 0:
        return np.full(params.num_perm, 2**32, dtype=np.uint64)
    permuted = (shingles[:, None] * a[None, :] + b[None, :]) >> _SHIFT32
    return permuted.min(axis=0)


def band_keys(signature: np.ndarray, params: SketchParams) -> list[int]:
    """One 63-bit key per band: the band's rows and its index hashed together."""
    rows = signature.reshape(params.bands, params.rows)
    keys = np.full(params.bands, np.uint64(params.seed), dtype=np.uint64) ^ np.arange(params.bands, dtype=np.uint64)
    for column in range(params.rows):
        keys = _mix64(keys ^ rows[:, column])
    return [int(k) >> 1 for k in keys]


def exact_band_key(key: str) -> int:
    """The key of the extra "band" that every exact copy shares, from its ``content_key``."""
    return int(key[:16], 16) >> 1 | (1 << 62)


def make_sketch(tokens: list[str], shingles: np.ndarray, params: SketchParams, numbers: list[str] = ()) -> Sketch:
    small = (_mix64(shingles ^ np.uint64(params.seed)) & _MASK32) if len(shingles) else shingles
    distinct = np.unique(small)
    bottom = distinct[:params.bottom_k]
    lead = np.unique(small[:params.lead_shingles])
    figures: list[int] = []
    seen = set()
    for token in numbers:
        if token not in seen:
            seen.add(token)
            figures.append(_word_hash(token) & 0xFFFFFFFF)
            if len(figures) >= params.max_numbers:
                break
    return Sketch(
        size=int(len(distinct)),
        bottom=tuple(bottom.tolist()),
        lead=tuple(lead.tolist()),
        numbers=tuple(figures),
    )


def compare(a: Sketch, b: Sketch, params: SketchParams) -> Similarity:
    """Estimate how much of the shorter text the longer one holds, from the two sketches alone.

    Bottom-k sketches: below ``tau`` (the smaller of the two sketches' largest kept hash, or
    unbounded for a sketch that holds its whole set), both sketches list every hash of their set,
    so they are two complete samples of the same hash range.
    """
    tau = min(_sketch_limit(a, params), _sketch_limit(b, params))
    sample_a = {v for v in a.bottom if v <= tau}
    sample_b = {v for v in b.bottom if v <= tau}
    shared = len(sample_a & sample_b)
    smaller = sample_a if a.size <= b.size else sample_b
    containment = shared / len(smaller) if smaller else 0.0
    union = len(sample_a | sample_b)
    jaccard = shared / union if union else 0.0
    lead_a, lead_b = set(a.lead), set(b.lead)
    lead = len(lead_a & lead_b) / min(len(lead_a), len(lead_b)) if lead_a and lead_b else 0.0
    numbers = None
    if min(len(a.numbers), len(b.numbers)) >= params.min_numbers_count:
        # Both lists are prefixes in text order; a cut copy's numbers are the original's first ones.
        m = min(len(a.numbers), len(b.numbers))
        numbers = max(len(set(a.numbers[:m]) & set(b.numbers)), len(set(b.numbers[:m]) & set(a.numbers))) / m
    return Similarity(min(containment, 1.0), jaccard, lead, numbers)


def _sketch_limit(sketch: Sketch, params: SketchParams) -> float:
    return sketch.bottom[-1] if len(sketch.bottom) >= params.bottom_k else float("inf")


def is_duplicate(similarity: Similarity, params: SketchParams) -> bool:
    """The verification rule: enough of the shorter text, its lead, and its figures are in the other."""
    if similarity.containment < params.min_containment or similarity.lead < params.min_lead:
        return False
    return similarity.numbers is None or similarity.numbers >= params.min_numbers


@dataclass(frozen=True)
class Analysis:
    """Everything dedup computes from one text: its exact key, its LSH band keys and its sketch."""

    content_key: str
    band_keys: tuple[int, ...]
    sketch: Sketch


def analyze(text: str, params: SketchParams) -> Analysis:
    """Normalize, shingle, sign and sketch one text (about a millisecond for a 400-word article)."""
    normalized = normalize_text(text)
    tokens = _WORD.findall(normalized)
    shingles = shingle_hashes(tokens, params.shingle_words)
    keys = tuple(band_keys(minhash_signature(shingles, params), params)) if len(shingles) else ()
    key = hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:32]
    return Analysis(key, keys, make_sketch(tokens, shingles, params, _NUMBER.findall(normalized)))
