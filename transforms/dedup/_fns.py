"""The dedup stage's DoFns: prepare, band index, candidate collection, sketch store, decision.

Every stateful DoFn is keyed (by LSH band key, or by an article's 16-byte message reference), so
state spreads over keys and workers and nothing lives in a process-local dict. Messages between
the steps are tuples of bytes, ints, floats and strings (cheap for Beam's FastPrimitivesCoder);
only the article itself travels as a pickled dataclass, once, to the decision.

Message shapes (``ref``: 16 bytes; ``order``: (ingest time, ordinal, ref), smaller = earlier):
  band query   band_key -> (ref, time, ordinal)
  band answer  ref -> ("answer", ((time, ordinal, ref), ...))      entries already in the bucket
  collect info ref -> ("info", time, ordinal, content_key, sketch, expected_answers)
  stored       ref -> packed bytes (_pack_stored)
  verify req   candidate_ref -> (asking_ref, article_id, content_key, sketch)
  verdict      asking_ref -> ("verdict", candidate_id | None, order, similarity, verified, exact)
  pending      ref -> ("pending", number_of_verdicts)
  article      ref -> Article
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import struct

import apache_beam as beam
import orjson
from apache_beam.coders import BytesCoder, FastPrimitivesCoder, PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.dedup.sketch import Sketch, analyze, compare, exact_band_key, is_duplicate
from transforms.records import Article, Dedup

_LOGGER = logging.getLogger(__name__)

# Tags of _PrepareFn's outputs (the main output is the collect info).
BAND_QUERIES = "band_queries"
SKETCHES = "sketches"
ARTICLES = "articles"
# Tags of _CollectCandidatesFn's outputs (the main output goes to the decision).
VERIFY_REQUESTS = "verify_requests"

# A band entry: ingest time (float64), ordinal (int64), reference (16 bytes): 32 bytes.
_ENTRY = struct.Struct("<dq16s")
# A stored sketch: ingest time, ordinal, content key (16 bytes), sketch length; then sketch and id.
_STORED = struct.Struct("<dq16sH")


def message_ref(article: Article) -> bytes:
    """16 bytes naming one message: the same for a message read twice, different for two messages."""
    identity = orjson.dumps([article.id, dict(article.source), article.ordinal, article.ingest_time],
                            option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(identity, digest_size=16).digest()


def _pack_stored(article: Article, content_key: str, sketch: bytes) -> bytes:
    header = _STORED.pack(article.ingest_time, article.ordinal, bytes.fromhex(content_key), len(sketch))
    return header + sketch + article.id.encode("utf-8")


def _unpack_stored(data: bytes) -> tuple[str, float, int, str, bytes]:
    time, ordinal, key, length = _STORED.unpack_from(data)
    start = _STORED.size
    return data[start + length:].decode("utf-8"), time, ordinal, key.hex(), data[start:start + length]


def _label(article: Article, dedup: Dedup):
    return TimestampedValue(dataclasses.replace(article, dedup=dedup), article.ingest_time)


class _PrepareFn(beam.DoFn):
    """Article -> a query per LSH band (plus the exact-text band), its sketch for the store,
    the facts candidate collection needs, and the article itself for the decision."""

    def __init__(self, params):
        self._params = params

    def process(self, article: Article):
        analysis = analyze(article.text, self._params)
        ref = message_ref(article)
        keys = (exact_band_key(analysis.content_key),) + analysis.band_keys
        query = (ref, article.ingest_time, article.ordinal)
        for key in keys:
            yield beam.pvalue.TaggedOutput(BAND_QUERIES, (key, query))
        sketch = analysis.sketch.to_bytes()
        yield beam.pvalue.TaggedOutput(SKETCHES, (ref, _pack_stored(article, analysis.content_key, sketch)))
        yield beam.pvalue.TaggedOutput(ARTICLES, (ref, article))
        yield ref, ("info", article.ingest_time, article.ordinal, analysis.content_key, sketch, len(keys))


class _BandIndexFn(beam.DoFn):
    """Keyed by band key: answers each query with the live entries already there, then adds the query's own.

    Entries are packed 32-byte records (time, ordinal, reference). A bucket keeps at most
    ``max_bucket`` entries, the earliest ones (the likeliest originals). Entries older than the
    horizon (ingest time) are never answered; an event-time timer set when the bucket starts
    drops them once the watermark passes their expiry, and re-arms for the oldest entry left.
    """

    ENTRIES = ReadModifyWriteStateSpec("entries", BytesCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, horizon: float, max_bucket: int):
        self._horizon = horizon
        self._max_bucket = max_bucket
        self._expired = Metrics.counter("dedup", "expired_buckets")
        self._full = Metrics.counter("dedup", "full_bucket_skips")
        self._buckets = Metrics.counter("dedup", "buckets_started")
        self._entries = Metrics.counter("dedup", "band_entries_written")

    def process(self, keyed, entries=beam.DoFn.StateParam(ENTRIES), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, (ref, time, ordinal) = keyed
        packed = entries.read()
        if not packed:
            yield ref, ("answer", ())
            entries.write(_ENTRY.pack(time, ordinal, ref))
            expiry.set(Timestamp.of(time + self._horizon))
            self._buckets.inc()
            self._entries.inc()
            return
        stored = list(_ENTRY.iter_unpack(packed))
        yield ref, ("answer", tuple(e for e in stored if e[0] + self._horizon > time and e[2] != ref))
        if any(e[2] == ref for e in stored):
            return  # the same message again
        if len(stored) >= self._max_bucket:
            self._full.inc()
            return
        entries.write(packed + _ENTRY.pack(time, ordinal, ref))
        self._entries.inc()

    @on_timer(EXPIRY)
    def expire(self, fired=beam.DoFn.TimestampParam, entries=beam.DoFn.StateParam(ENTRIES),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        now = fired.micros / 1e6
        live = [e for e in _ENTRY.iter_unpack(entries.read() or b"") if e[0] + self._horizon > now]
        if live:
            entries.write(b"".join(_ENTRY.pack(*e) for e in live))
            expiry.set(Timestamp.of(min(e[0] for e in live) + self._horizon))
        else:
            entries.clear()
            self._expired.inc()


class _CollectCandidatesFn(beam.DoFn):
    """Keyed by the article's reference: waits for its facts and the answers of all its bands.

    Candidates that came earlier (ingest time, ordinal, reference) are ranked by the number of
    bands they share, the earliest first among equals; the best ``max_candidates`` are sent to
    verification. The decision learns how many verdicts to wait for (0: an original).
    """

    COLLECTED = ReadModifyWriteStateSpec("collected", FastPrimitivesCoder())

    def __init__(self, max_candidates: int):
        self._max_candidates = max_candidates

    def process(self, keyed, collected=beam.DoFn.StateParam(COLLECTED)):
        ref, message = keyed
        info, answered, shared = collected.read() or (None, 0, {})
        if message[0] == "info":
            info = message
        else:
            answered += 1
            for entry in message[1]:
                shared[entry] = shared.get(entry, 0) + 1
        if info is None or answered < info[5]:
            collected.write((info, answered, shared))
            return
        collected.clear()
        _, time, ordinal, content_key, sketch, _ = info
        mine = (time, ordinal, ref)
        earlier = [entry for entry in shared if entry < mine]
        ranked = sorted(earlier, key=lambda entry: (-shared[entry], entry))[:self._max_candidates]
        for entry in ranked:
            yield beam.pvalue.TaggedOutput(VERIFY_REQUESTS, (entry[2], (ref, content_key, sketch)))
        yield ref, ("pending", len(ranked))


class _SketchStoreFn(beam.DoFn):
    """Keyed by an article's reference: keeps its sketch for the horizon and verifies requests against it.

    A request that arrives before the sketch waits; one for a sketch that never comes (expired) is
    answered "gone" when the watermark passes the request's time.
    """

    STORED = ReadModifyWriteStateSpec("stored", BytesCoder())
    WAITING = BagStateSpec("waiting", FastPrimitivesCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
    GIVE_UP = TimerSpec("give_up", TimeDomain.WATERMARK)

    def __init__(self, horizon: float, params):
        self._horizon = horizon
        self._params = params
        self._expired = Metrics.counter("dedup", "expired_sketches")
        self._stored_bytes = Metrics.counter("dedup", "sketch_state_bytes_written")
        self._gone = Metrics.counter("dedup", "candidates_gone")

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam, stored=beam.DoFn.StateParam(STORED),
                waiting=beam.DoFn.StateParam(WAITING), expiry=beam.DoFn.TimerParam(EXPIRY),
                give_up=beam.DoFn.TimerParam(GIVE_UP)):
        ref, message = keyed
        if isinstance(message, bytes):
            stored.write(message)
            self._stored_bytes.inc(len(message))
            unpacked = _unpack_stored(message)
            expiry.set(Timestamp.of(unpacked[1] + self._horizon))
            for request in waiting.read():
                yield self._verdict(ref, unpacked, request)
            waiting.clear()
            return
        packed = stored.read()
        if packed is None:
            waiting.add(message)
            give_up.set(timestamp)
        else:
            yield self._verdict(ref, _unpack_stored(packed), message)

    def _verdict(self, ref: bytes, stored: tuple, request: tuple):
        article_id, time, ordinal, content_key, sketch = stored
        asking, asking_key, asking_sketch = request
        if content_key == asking_key:
            similarity, verified, exact = 1.0, True, True
        else:
            measured = compare(Sketch.from_bytes(sketch), Sketch.from_bytes(asking_sketch), self._params)
            similarity, verified, exact = round(measured.containment, 4), is_duplicate(measured, self._params), False
        return asking, ("verdict", article_id, (time, ordinal, ref), similarity, verified, exact)

    @on_timer(GIVE_UP)
    def give_up(self, waiting=beam.DoFn.StateParam(WAITING)):
        for request in waiting.read():
            self._gone.inc()
            yield request[0], ("verdict", None, (), 0.0, False, False)
        waiting.clear()

    @on_timer(EXPIRY)
    def expire(self, stored=beam.DoFn.StateParam(STORED)):
        stored.clear()
        self._expired.inc()


class _DecideFn(beam.DoFn):
    """Keyed by the article's reference: once the article and every verdict are in, labels it.

    A copy of the earliest candidate that verified (exact when the normalized texts are equal),
    else an original. A candidate with the article's own id (the same message read twice from
    another position) does not count.
    """

    ARTICLE = ReadModifyWriteStateSpec("article", PickleCoder())
    VERDICTS = ReadModifyWriteStateSpec("verdicts", FastPrimitivesCoder())

    def process(self, keyed, article_state=beam.DoFn.StateParam(ARTICLE), verdicts=beam.DoFn.StateParam(VERDICTS)):
        _, message = keyed
        expected, received = verdicts.read() or (None, [])
        if isinstance(message, Article):
            article = message
            if expected is None or len(received) < expected:
                article_state.write(article)
                return
        else:
            if message[0] == "pending":
                expected = message[1]
            else:
                received.append(message)
            if expected is None or len(received) < expected:
                verdicts.write((expected, received))
                return
            article = article_state.read()
            if article is None:
                verdicts.write((expected, received))
                return
        article_state.clear()
        verdicts.clear()
        matches = [v for v in received if v[4] and v[1] is not None and v[1] != article.id]
        if not matches:
            yield _label(article, Dedup("original", None, article.id, None))
            return
        _, candidate_id, _, similarity, _, exact = min(matches, key=lambda v: v[2])
        status = "exact_duplicate" if exact else "near_duplicate"
        yield _label(article, Dedup(status, candidate_id, candidate_id, similarity))
