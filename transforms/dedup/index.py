"""The dedup index: which earlier article, if any, is an article a copy of (pure, no Beam).

``DedupIndex.label(article)`` analyzes the text, collects the earlier articles that share an LSH
bucket with it (or its exact key), verifies the best of them against their sketches, labels the
article from the earliest verified one, then remembers the article. What it remembers per article:
its order ``(ingest time, ordinal, ref)``, id, content key, sketch bytes and band keys; each bucket
holds the sequence numbers of its articles, the earliest ``max_bucket`` ones.

Forgetting follows the ingest-time clock of the data itself (the newest ingest time seen): an
article is dropped once that clock has passed its ingest time + horizon + ``lateness_seconds``.
An article is never a candidate for one that arrives more than a horizon after it, so dropping
it sooner than that is never what drops a match; the lateness allowance keeps what an article
that arrives out of order (another partition behind the newest) may still need.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import struct
from collections import Counter
from dataclasses import dataclass

import orjson

from transforms.dedup.sketch import Analysis, Sketch, analyze, compare, exact_band_key, is_duplicate
from transforms.records import Article, Dedup

__all__ = ["DedupIndex", "message_ref"]

REF_BYTES = 8
_KEYS = struct.Struct("<q")


def message_ref(article: Article) -> bytes:
    """8 bytes naming one message: the same for a message read twice, different for two messages
    (a collision among the articles of one horizon is about 1 in 250,000 at 12 million articles)."""
    identity = orjson.dumps([article.id, dict(article.source), article.ordinal, article.ingest_time],
                            option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(identity, digest_size=REF_BYTES).digest()


class _Remembered:
    """One indexed article. Band keys are packed (8 bytes each) and the sketch kept as bytes: the
    index holds horizon x rate of these (12 million for 7 days at 20 articles/s)."""

    __slots__ = ("order", "article_id", "content_key", "sketch", "keys")

    def __init__(self, order: tuple, article_id: str, content_key: str, sketch: bytes, keys: bytes):
        self.order = order
        self.article_id = article_id
        self.content_key = content_key
        self.sketch = sketch
        self.keys = keys


@dataclass(frozen=True)
class _Verdict:
    order: tuple
    article_id: str
    similarity: float
    exact: bool


class DedupIndex:
    """Labels articles in arrival order against the articles remembered before them.

    ``counts`` (a Counter) says what happened, for metrics: ``remembered``, ``forgotten``,
    ``full_bucket_skips``, ``candidates_over_limit``, ``sketch_comparisons``, ``redelivered``.
    """

    def __init__(self, config):
        self._params = config.sketch
        self._horizon = config.horizon_seconds if config.expire_entries else math.inf
        self._lateness = config.lateness_seconds
        self._max_bucket = config.max_bucket
        self._max_candidates = config.max_candidates
        self._buckets: dict[int, int | tuple[int, ...]] = {}  # band key -> one sequence number, or several
        self._remembered: dict[int, _Remembered] = {}
        self._by_ref: dict[bytes, int] = {}
        self._by_given_id: dict[str, int | tuple[int, ...]] = {}  # id the input gave -> sequence numbers
        self._derived_from: dict[int, str] = {}  # sequence number -> given id, for articles whose id was derived
        self._expiry: list[tuple[float, int]] = []  # (ingest time + horizon, sequence number), a heap
        self._next = 0
        self.clock = -math.inf
        self.counts: Counter = Counter()

    def __len__(self) -> int:
        return len(self._remembered)

    @property
    def bucket_count(self) -> int:
        return len(self._buckets)

    def distinct_id(self, article: Article, analysis: Analysis | None = None) -> str:
        """The id the article is to carry: its own, unless a remembered article gave the same id with a text
        that does not verify as a copy of this one; then ``<id>~<8 hex of its content key>`` (deterministic:
        the same text under the same id always gets the same one). A copy takes the id of what it copies.
        Call before ``label``, which remembers the article under the id it then carries."""
        if analysis is None:
            analysis = analyze(article.text, self._params)
        self.advance(article.ingest_time)  # what is past the horizon no longer holds its id
        numbers = self._by_given_id.get(article.id)
        if numbers is None:
            return article.id
        for number in (numbers,) if type(numbers) is int else numbers:
            remembered = self._remembered[number]
            if remembered.content_key == analysis.content_key or is_duplicate(
                    compare(Sketch.from_bytes(remembered.sketch), analysis.sketch, self._params), self._params):
                return remembered.article_id
        self.counts["ids_derived"] += 1
        return f"{article.id}~{analysis.content_key[:8]}"

    def label(self, article: Article, analysis: Analysis | None = None) -> Dedup:
        """The article's label; the article is remembered (unless it is a message seen before)."""
        if analysis is None:
            analysis = analyze(article.text, self._params)
        time = article.ingest_time
        self.advance(time)
        ref = message_ref(article)
        order = (time, article.ordinal, ref)
        keys = (exact_band_key(analysis.content_key),) + tuple(analysis.band_keys)
        again = self._by_ref.get(ref)
        shared = self._candidates(keys, order, again)
        verdicts = self._verify(shared, analysis)
        matches = [v for v in verdicts if v.article_id != article.id]
        if again is not None:
            self.counts["redelivered"] += 1  # the same message read twice: labelled as the first time
        else:
            self._remember(article, analysis, order, keys)
        if not matches:
            return Dedup("original", None, article.id, None)
        first = min(matches, key=lambda v: v.order)
        return Dedup("exact_duplicate" if first.exact else "near_duplicate", first.article_id, first.article_id,
                     first.similarity)

    def advance(self, time: float) -> None:
        """Move the clock to ``time`` if it is newer, and forget what that puts past the horizon."""
        if time <= self.clock:
            return
        self.clock = time
        limit = time - self._lateness
        while self._expiry and self._expiry[0][0] <= limit:
            _, number = heapq.heappop(self._expiry)
            self._forget(number)

    # -- internals -------------------------------------------------------------------------------

    def _candidates(self, keys: tuple[int, ...], order: tuple, again: int | None) -> Counter:
        """Earlier articles within the horizon sharing a bucket with these keys: bands shared by each."""
        shared: Counter = Counter()
        oldest = order[0] - self._horizon
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is None:
                continue
            for number in (bucket,) if type(bucket) is int else bucket:
                if number == again:
                    continue
                other = self._remembered[number].order
                if other < order and other[0] > oldest:
                    shared[number] += 1
        return shared

    def _verify(self, shared: Counter, analysis: Analysis) -> list[_Verdict]:
        remembered = self._remembered
        ranked = sorted(shared, key=lambda number: (-shared[number], remembered[number].order))
        if len(ranked) > self._max_candidates:
            self.counts["candidates_over_limit"] += len(ranked) - self._max_candidates
            ranked = ranked[:self._max_candidates]
        verdicts = []
        for number in ranked:
            candidate = remembered[number]
            if candidate.content_key == analysis.content_key:
                verdicts.append(_Verdict(candidate.order, candidate.article_id, 1.0, True))
                continue
            self.counts["sketch_comparisons"] += 1
            measured = compare(Sketch.from_bytes(candidate.sketch), analysis.sketch, self._params)
            if is_duplicate(measured, self._params):
                verdicts.append(_Verdict(candidate.order, candidate.article_id, round(measured.containment, 4), False))
        return verdicts

    def _remember(self, article: Article, analysis: Analysis, order: tuple, keys: tuple[int, ...]) -> None:
        number = self._next
        self._next += 1
        kept = []
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is None:
                self._buckets[key] = number
            elif type(bucket) is int:
                self._buckets[key] = (bucket, number)
            elif len(bucket) < self._max_bucket:
                self._buckets[key] = bucket + (number,)
            else:
                self.counts["full_bucket_skips"] += 1
                continue
            kept.append(key)
        self._remembered[number] = _Remembered(order, article.id, analysis.content_key, analysis.sketch.to_bytes(),
                                               b"".join(_KEYS.pack(key) for key in kept))
        self._by_ref[order[2]] = number
        given = article.given_id or article.id
        if article.given_id:
            self._derived_from[number] = article.given_id
        known = self._by_given_id.get(given)
        self._by_given_id[given] = number if known is None else (known + (number,) if type(known) is tuple else (known, number))
        if math.isfinite(self._horizon):
            heapq.heappush(self._expiry, (order[0] + self._horizon, number))
        self.counts["remembered"] += 1

    def _forget(self, number: int) -> None:
        remembered = self._remembered.pop(number)
        for (key,) in _KEYS.iter_unpack(remembered.keys):
            bucket = self._buckets[key]
            if type(bucket) is int:
                del self._buckets[key]
                continue
            rest = tuple(n for n in bucket if n != number)
            self._buckets[key] = rest[0] if len(rest) == 1 else rest
        if self._by_ref.get(remembered.order[2]) == number:
            del self._by_ref[remembered.order[2]]
        given = self._derived_from.pop(number, remembered.article_id)
        known = self._by_given_id.get(given)
        if known is not None:
            rest = tuple(n for n in ((known,) if type(known) is int else known) if n != number)
            if not rest:
                del self._by_given_id[given]
            else:
                self._by_given_id[given] = rest[0] if len(rest) == 1 else rest
        self.counts["forgotten"] += 1
