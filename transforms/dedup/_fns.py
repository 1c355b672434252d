"""The dedup stage's DoFns: prepare, band index, candidate collection, sketch store, decision.

Messages between them are small frozen dataclasses; every stateful DoFn is keyed (band key or the
article's 16-byte reference), so state spreads over keys and workers and nothing lives in a
process-local dict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import struct
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.coders import BytesCoder, PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.dedup.sketch import Sketch, analyze, compare, is_duplicate
from transforms.records import Article, Dedup

_LOGGER = logging.getLogger(__name__)

# Tags of _PrepareFn's outputs.
BAND_QUERIES = "band_queries"
SKETCHES = "sketches"
# Tags of _CollectCandidatesFn's outputs.
VERIFY_REQUESTS = "verify_requests"
PENDING = "pending"

# A band entry: ingest time (float64), ordinal (int64), reference (16 bytes): 32 bytes.
_ENTRY = struct.Struct("<dq16s")


@dataclass(frozen=True)
class _Order:
    """Who came first: ingest time, then ordinal, then the reference (deterministic tie-break)."""

    time: float
    ordinal: int
    ref: bytes

    def key(self) -> tuple:
        return (self.time, self.ordinal, self.ref)


@dataclass(frozen=True)
class _BandQuery:
    ref: bytes
    time: float
    ordinal: int


@dataclass(frozen=True)
class _BandAnswer:
    ref: bytes
    candidates: tuple[tuple[float, int, bytes], ...]


@dataclass(frozen=True)
class _Prepared:
    article: Article
    ref: bytes
    content_key: str
    sketch: bytes
    expected_answers: int


@dataclass(frozen=True)
class _StoredSketch:
    article_id: str
    time: float
    ordinal: int
    content_key: str
    sketch: bytes


@dataclass(frozen=True)
class _VerifyRequest:
    ref: bytes  # the asking article's reference (where the answer goes)
    article_id: str
    content_key: str
    sketch: bytes


@dataclass(frozen=True)
class _VerifyAnswer:
    candidate_id: str | None  # None: the candidate expired or was never stored
    order: tuple
    similarity: float
    verified: bool
    exact: bool


@dataclass(frozen=True)
class _Pending:
    article: Article
    expected_answers: int


def message_ref(article: Article) -> bytes:
    """16 bytes naming one message: the same for a message read twice, different for two messages."""
    identity = orjson.dumps([article.id, dict(article.source), article.ordinal, article.ingest_time],
                            option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(identity, digest_size=16).digest()


def _label(article: Article, dedup: Dedup):
    return TimestampedValue(dataclasses.replace(article, dedup=dedup), article.ingest_time)


def _original(article: Article):
    return _label(article, Dedup("original", None, article.id, None))


class _PrepareFn(beam.DoFn):
    """Article -> one query per LSH band (plus the exact-text band), its sketch for the store, itself for collection."""

    def __init__(self, params):
        self._params = params

    def process(self, article: Article):
        from transforms.dedup.sketch import exact_band_key

        analysis = analyze(article.text, self._params)
        ref = message_ref(article)
        keys = (exact_band_key(article.text),) + analysis.band_keys
        query = _BandQuery(ref, article.ingest_time, article.ordinal)
        for key in keys:
            yield beam.pvalue.TaggedOutput(BAND_QUERIES, (key, query))
        sketch = analysis.sketch.to_bytes()
        yield beam.pvalue.TaggedOutput(SKETCHES, (ref, _StoredSketch(
            article.id, article.ingest_time, article.ordinal, analysis.content_key, sketch)))
        yield ref, _Prepared(article, ref, analysis.content_key, sketch, len(keys))


class _BandIndexFn(beam.DoFn):
    """Keyed by band key: answers each query with the live entries already there, then adds the query's own.

    Entries are packed 32-byte records (time, ordinal, reference). A bucket keeps at most
    ``max_bucket`` entries, the earliest ones (the likeliest originals); entries older than the
    horizon (ingest time) are dropped when the bucket is next written, and an event-time timer
    clears a bucket the horizon after its newest entry.
    """

    ENTRIES = ReadModifyWriteStateSpec("entries", BytesCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon: float, max_bucket: int):
        self._horizon = horizon
        self._max_bucket = max_bucket
        self._expired = Metrics.counter("dedup", "expired_buckets")
        self._full = Metrics.counter("dedup", "full_bucket_skips")

    def process(self, keyed, entries=beam.DoFn.StateParam(ENTRIES), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, query = keyed
        packed = entries.read() or b""
        live = [e for e in _ENTRY.iter_unpack(packed) if e[0] + self._horizon > query.time]
        yield query.ref, _BandAnswer(query.ref, tuple(e for e in live if e[2] != query.ref))
        if all(e[2] != query.ref for e in live):
            if len(live) < self._max_bucket:
                live.append((query.time, query.ordinal, query.ref))
            else:
                self._full.inc()
        entries.write(b"".join(_ENTRY.pack(*e) for e in live))
        expiry.set(Timestamp.of(max(e[0] for e in live) + self._horizon))

    @on_timer(EXPIRY)
    def expire(self, fired=beam.DoFn.TimestampParam, entries=beam.DoFn.StateParam(ENTRIES),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        live = [e for e in _ENTRY.iter_unpack(entries.read() or b"") if e[0] + self._horizon > fired.micros / 1e6]
        if live:
            entries.write(b"".join(_ENTRY.pack(*e) for e in live))
            expiry.set(Timestamp.of(max(e[0] for e in live) + self._horizon))
        else:
            entries.clear()
            self._expired.inc()


class _CollectCandidatesFn(beam.DoFn):
    """Keyed by the article's reference: waits for the article and the answers of all its bands.

    Candidates that came earlier (ingest time, ordinal) are ranked by the number of bands they
    share, the earliest first among equals; the best ``max_candidates`` are sent to verification.
    An article without candidates is an original at once.
    """

    COLLECTED = ReadModifyWriteStateSpec("collected", PickleCoder())

    def __init__(self, max_candidates: int):
        self._max_candidates = max_candidates

    def process(self, keyed, collected=beam.DoFn.StateParam(COLLECTED)):
        _, message = keyed
        prepared, received = collected.read() or (None, [])
        if isinstance(message, _Prepared):
            prepared = message
        else:
            received.append(message.candidates)
        if prepared is None or len(received) < prepared.expected_answers:
            collected.write((prepared, received))
            return
        collected.clear()
        article = prepared.article
        mine = (article.ingest_time, article.ordinal, prepared.ref)
        shared: dict[tuple, int] = {}
        for candidates in received:
            for entry in candidates:
                if entry < mine:
                    shared[entry] = shared.get(entry, 0) + 1
        if not shared:
            yield _original(article)
            return
        ranked = sorted(shared, key=lambda entry: (-shared[entry], entry))[:self._max_candidates]
        request = _VerifyRequest(prepared.ref, article.id, prepared.content_key, prepared.sketch)
        for entry in ranked:
            yield beam.pvalue.TaggedOutput(VERIFY_REQUESTS, (entry[2], request))
        yield beam.pvalue.TaggedOutput(PENDING, (prepared.ref, _Pending(article, len(ranked))))


class _SketchStoreFn(beam.DoFn):
    """Keyed by an article's reference: keeps its sketch for the horizon and verifies requests against it.

    A request that arrives before the sketch waits; one for a sketch that never comes (expired) is
    answered "unknown" when the watermark passes the request's time.
    """

    STORED = ReadModifyWriteStateSpec("stored", PickleCoder())
    WAITING = BagStateSpec("waiting", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
    GIVE_UP = TimerSpec("give_up", TimeDomain.WATERMARK)

    def __init__(self, horizon: float, params):
        self._horizon = horizon
        self._params = params
        self._expired = Metrics.counter("dedup", "expired_sketches")
        self._unknown = Metrics.counter("dedup", "candidates_gone")

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam, stored=beam.DoFn.StateParam(STORED),
                waiting=beam.DoFn.StateParam(WAITING), expiry=beam.DoFn.TimerParam(EXPIRY),
                give_up=beam.DoFn.TimerParam(GIVE_UP)):
        ref, message = keyed
        if isinstance(message, _StoredSketch):
            stored.write(message)
            expiry.set(Timestamp.of(message.time + self._horizon))
            for request in waiting.read():
                yield self._answer(ref, message, request)
            waiting.clear()
            return
        current = stored.read()
        if current is None:
            waiting.add(message)
            give_up.set(timestamp)
        else:
            yield self._answer(ref, current, message)

    def _answer(self, ref: bytes, stored: _StoredSketch, request: _VerifyRequest):
        if stored.content_key == request.content_key:
            similarity, verified, exact = 1.0, True, True
        else:
            measured = compare(Sketch.from_bytes(stored.sketch), Sketch.from_bytes(request.sketch), self._params)
            similarity, verified, exact = measured.containment, is_duplicate(measured, self._params), False
        order = (stored.time, stored.ordinal, ref)
        return request.ref, _VerifyAnswer(stored.article_id, order, round(similarity, 4), verified, exact)

    @on_timer(GIVE_UP)
    def give_up(self, waiting=beam.DoFn.StateParam(WAITING)):
        for request in waiting.read():
            self._unknown.inc()
            yield request.ref, _VerifyAnswer(None, (), 0.0, False, False)
        waiting.clear()

    @on_timer(EXPIRY)
    def expire(self, stored=beam.DoFn.StateParam(STORED)):
        stored.clear()
        self._expired.inc()


class _DecideFn(beam.DoFn):
    """Keyed by the article's reference: once every verification answer is in, labels the article.

    It is a copy of the earliest candidate that verified (exact when the normalized texts are
    equal), else an original. A candidate with the article's own id (the same message read
    twice) does not count.
    """

    PENDING = ReadModifyWriteStateSpec("pending", PickleCoder())
    ANSWERS = BagStateSpec("answers", PickleCoder())

    def process(self, keyed, pending_state=beam.DoFn.StateParam(PENDING), answers=beam.DoFn.StateParam(ANSWERS)):
        _, message = keyed
        if isinstance(message, _Pending):
            pending_state.write(message)
            pending = message
        else:
            answers.add(message)
            pending = pending_state.read()
        if pending is None:
            return
        received = list(answers.read())
        if len(received) < pending.expected_answers:
            return
        pending_state.clear()
        answers.clear()
        article = pending.article
        matches = [a for a in received if a.verified and a.candidate_id is not None and a.candidate_id != article.id]
        if not matches:
            yield _original(article)
            return
        best = min(matches, key=lambda a: a.order)
        status = "exact_duplicate" if best.exact else "near_duplicate"
        yield _label(article, Dedup(status, best.candidate_id, best.candidate_id, best.similarity))


def state_bytes_per_article(sketch_bytes: int, bands: int, id_bytes: int) -> dict[str, Any]:
    """The state one remembered article holds, by store (the payload; runner overhead comes on top)."""
    return {
        "band_entries": (bands + 1) * _ENTRY.size,
        "sketch_store": sketch_bytes + id_bytes + 32 + 8 + 8 + 16,
    }
