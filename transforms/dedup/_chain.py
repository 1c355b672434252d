"""The dedup stage as one linear chain of DoFns, no Flatten and no grouping:

  Prepare -> ExactBand -> Band01 .. BandNN -> FanOut -> Verify -> Decide

On the FnApiRunner every multi-input Flatten or grouping is a fusion break, and behind a fusion
break an unbounded source's output is processed only once the source has ended. Keyed stateful
DoFns do not break fusion, and neither does a DoFn with several outputs per input, so this chain
runs in step with the source (one fused stage with it).

- Prepare (stateless): analyze; the element that travels the bands.
- ExactBand, BandXX (keyed by the article's key for that band; state: the bucket, packed 24-byte
  entries (ingest time f64, ordinal i64, ref 8 B)): add the live earlier entries of the bucket to
  the element's candidates (with the number of bands each shares), then append the article's own.
- FanOut (stateless): one message keyed by the article's own ref that stores its sketch and carries
  the article on, and one verification request keyed by each of the best ``max_candidates``
  candidates' refs (most shared bands first, then earliest).
- Verify (keyed by ref; state: the article's packed sketch, id, content key, time, ordinal, ref):
  stores a sketch, answers requests with a verdict keyed by the asking article's ref.
- Decide (keyed by the asking article's ref; state only while an answer is missing): labels the
  article from the earliest verified candidate once the article and all its verdicts are in.

The element through the bands (a plain tuple, not encoded inside the fused stage):
  (article, ref, order, keys, content_key, sketch_bytes, candidates)
``order`` = (ingest time, ordinal, ref), smaller = earlier; ``keys``: one per band stage (None when
the text has no key for it); ``candidates``: {entry order: bands shared}.
"""

from __future__ import annotations

import math

import dataclasses
import hashlib
import logging
import struct
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.coders import BytesCoder, FastPrimitivesCoder, PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.dedup.sketch import Sketch, analyze, compare, exact_band_key, is_duplicate
from transforms import metrics
from transforms.records import Article, Dedup

_LOGGER = logging.getLogger(__name__)

REF_BYTES = 8
# A band entry: ingest time, ordinal, ref (24 bytes).
_ENTRY = struct.Struct(f"<dq{REF_BYTES}s")
# A stored sketch: ingest time, ordinal, ref, content key (16 bytes), sketch length; then sketch and id.
_STORED = struct.Struct(f"<dq{REF_BYTES}s16sH")
_MISSING_KEY = -1  # a band the text has no key for: the stage passes the element on untouched


def message_ref(article: Article) -> bytes:
    """8 bytes naming one message: the same for a message read twice, different for two messages
    (a collision among the articles of one horizon is about 1 in 250,000 at 12 million articles)."""
    identity = orjson.dumps([article.id, dict(article.source), article.ordinal, article.ingest_time],
                            option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(identity, digest_size=REF_BYTES).digest()


def ref_key(ref: bytes) -> int:
    """A ref as a key with a standard deterministic coder (VarIntCoder): 63 of its bits."""
    return int.from_bytes(ref, "little") >> 1


def pack_stored(article: Article, ref: bytes, content_key: str, sketch: bytes) -> bytes:
    header = _STORED.pack(article.ingest_time, article.ordinal, ref, bytes.fromhex(content_key), len(sketch))
    return header + sketch + article.id.encode("utf-8")


def unpack_stored(data: bytes) -> tuple[str, tuple, str, bytes]:
    """(id, order, content key, sketch bytes)."""
    time, ordinal, ref, key, length = _STORED.unpack_from(data)
    start = _STORED.size
    return data[start + length:].decode("utf-8"), (time, ordinal, ref), key.hex(), data[start:start + length]


class _PrepareFn(beam.DoFn):
    """Article -> the element that travels the bands: ref, order, one key per band, sketch."""

    def __init__(self, params):
        self._params = params

    def process(self, article: Article):
        analysis = metrics.timed_call("dedup", analyze, article.text, self._params)
        ref = message_ref(article)
        keys = (exact_band_key(analysis.content_key),) + analysis.band_keys
        keys += (None,) * (1 + self._params.bands - len(keys))
        order = (article.ingest_time, article.ordinal, ref)
        yield (article, ref, order, keys, analysis.content_key, analysis.sketch.to_bytes(), {})


def key_by_band(index: int):
    """The element keyed by its key for band ``index`` (a deterministic int key)."""

    def key(element):
        band_key = element[3][index]
        return (_MISSING_KEY if band_key is None else band_key), element

    return key


class _BandFn(beam.DoFn):
    """One LSH band (or the exact band), keyed by the band key; state: the bucket's packed entries.

    Adds the live entries that came earlier (ingest time, ordinal, ref) to the element's
    candidates, then appends the article's own entry. A bucket keeps at most ``max_bucket``
    entries, the earliest ones (the likeliest originals). Entries older than the horizon (ingest
    time) are never candidates; an event-time timer set when the bucket starts drops them once
    the watermark passes their expiry and re-arms for the oldest entry left.

    Use ``band_fn(name, ...)``: each band stage needs its own timer family id (see there).
    """

    ENTRIES = ReadModifyWriteStateSpec("entries", BytesCoder())

    def __init__(self, horizon: float, max_bucket: int):
        self._horizon = horizon
        self._max_bucket = max_bucket
        self._expired = Metrics.counter("dedup", "expired_buckets")
        self._full = Metrics.counter("dedup", "full_bucket_skips")
        self._buckets = Metrics.counter("dedup", "buckets_started")
        self._entries = Metrics.counter("dedup", "band_entries_written")

    def _process(self, keyed, entries, expiry):
        key, element = keyed
        if key == _MISSING_KEY:
            yield element
            return
        ref, order = element[1], element[2]
        time = order[0]
        packed = entries.read()
        if not packed:
            yield element
            entries.write(_ENTRY.pack(*order))
            if math.isfinite(self._horizon):
                expiry.set(Timestamp.of(time + self._horizon))
            self._buckets.inc()
            self._entries.inc()
            return
        candidates = dict(element[6])
        seen_self = False
        stored = 0
        for entry in _ENTRY.iter_unpack(packed):
            stored += 1
            if entry[2] == ref:
                seen_self = True  # the same message again: never its own copy, nothing to append
            elif entry < order and entry[0] + self._horizon > time:
                candidates[entry] = candidates.get(entry, 0) + 1
        yield element[:6] + (candidates,)
        if seen_self:
            return
        if stored >= self._max_bucket:
            self._full.inc()
            return
        entries.write(packed + _ENTRY.pack(*order))
        self._entries.inc()

    def _expire(self, fired, entries, expiry):
        now = fired.micros / 1e6
        live = [e for e in _ENTRY.iter_unpack(entries.read() or b"") if e[0] + self._horizon > now]
        if live:
            entries.write(b"".join(_ENTRY.pack(*e) for e in live))
            expiry.set(Timestamp.of(min(e[0] for e in live) + self._horizon))
        else:
            entries.clear()
            self._expired.inc()


def band_fn(name: str, horizon: float, max_bucket: int) -> _BandFn:
    """A ``_BandFn`` whose timer family id is unique to the band (``dedup_<name>_expiry``).

    The FnApiRunner (Beam 2.77, fn_runner._collect_written_timers / execution.get_buffer) keeps
    the timers a fused stage writes in one buffer per timer family id, not per transform: with
    one id for all the band stages, every band's timers were decoded with one stage's coder and
    fired into one stage's DoFn (measured: 24 expiries counted on Band14, none on the others)."""
    timer = TimerSpec(f"dedup_{name}_expiry", TimeDomain.WATERMARK)

    class Band(_BandFn):
        EXPIRY = timer

        def process(self, keyed, entries=beam.DoFn.StateParam(_BandFn.ENTRIES), expiry=beam.DoFn.TimerParam(timer)):
            return self._process(keyed, entries, expiry)

        @on_timer(timer)
        def expire(self, fired=beam.DoFn.TimestampParam, entries=beam.DoFn.StateParam(_BandFn.ENTRIES),
                   expiry=beam.DoFn.TimerParam(timer)):
            return self._expire(fired, entries, expiry)

    Band.__name__ = Band.__qualname__ = f"_{name}Fn"
    return Band(horizon, max_bucket)


class _FanOutFn(beam.DoFn):
    """Stateless: the article's own sketch to store (carrying the article and the number of
    verdicts to wait for), and a verification request to each of its best candidates, all keyed
    by the ref of the article that holds the sketch."""

    def __init__(self, max_candidates: int):
        self._max_candidates = max_candidates
        self._over = Metrics.counter("dedup", "candidates_over_limit")

    def process(self, element):
        article, ref, _, _, content_key, sketch, candidates = element
        ranked = sorted(candidates, key=lambda entry: (-candidates[entry], entry))
        if len(ranked) > self._max_candidates:
            self._over.inc(len(ranked) - self._max_candidates)
            ranked = ranked[:self._max_candidates]
        for entry in ranked:
            yield ref_key(entry[2]), ("verify", ref, content_key, sketch)
        yield ref_key(ref), ("store", pack_stored(article, ref, content_key, sketch), article, len(ranked))


class _VerifyFn(beam.DoFn):
    """Keyed by an article's ref: keeps its sketch for the horizon and verifies requests against it.

    A request for a sketch that is not there (expired, or still in flight on another worker) is
    answered "not verified" (``dedup.candidates_gone``)."""

    STORED = ReadModifyWriteStateSpec("stored", BytesCoder())
    EXPIRY = TimerSpec("dedup_verify_expiry", TimeDomain.WATERMARK)  # unique in the stage: see band_fn

    def __init__(self, horizon: float, params):
        self._horizon = horizon
        self._params = params
        self._expired = Metrics.counter("dedup", "expired_sketches")
        self._stored_bytes = Metrics.counter("dedup", "sketch_state_bytes_written")
        self._gone = Metrics.counter("dedup", "candidates_gone")
        self._comparisons = Metrics.counter("dedup", "sketch_comparisons")

    def process(self, keyed, stored=beam.DoFn.StateParam(STORED), expiry=beam.DoFn.TimerParam(EXPIRY)):
        key, message = keyed
        if message[0] == "store":
            _, packed, article, expected = message
            stored.write(packed)
            self._stored_bytes.inc(len(packed))
            if math.isfinite(self._horizon):
                expiry.set(Timestamp.of(article.ingest_time + self._horizon))
            yield key, ("article", article, expected)
            return
        _, asking, asking_key, asking_sketch = message
        packed = stored.read()
        if packed is None:
            # Nothing to clear, but Beam's in-process runner keeps an empty entry for every key ever
            # read (a defaultdict); this removes it (0.5 per article in the 100,000-article soak).
            stored.clear()
            self._gone.inc()
            yield ref_key(asking), ("verdict", None, (), 0.0, False, False)
            return
        article_id, order, content_key, sketch = unpack_stored(packed)
        if content_key == asking_key:
            similarity, verified, exact = 1.0, True, True
        else:
            self._comparisons.inc()
            measured = compare(Sketch.from_bytes(sketch), Sketch.from_bytes(asking_sketch), self._params)
            similarity, verified, exact = round(measured.containment, 4), is_duplicate(measured, self._params), False
        yield ref_key(asking), ("verdict", article_id, order, similarity, verified, exact)

    @on_timer(EXPIRY)
    def expire(self, stored=beam.DoFn.StateParam(STORED)):
        stored.clear()
        self._expired.inc()


def _label(article: Article, received: list):
    """The article labelled from its verdicts: a copy of the earliest verified candidate (exact when
    the normalized texts are equal), else an original. A candidate with the article's own id (the
    same message read twice from another position) does not count."""
    matches = [v for v in received if v[4] and v[1] is not None and v[1] != article.id]
    if not matches:
        dedup = Dedup("original", None, article.id, None)
    else:
        _, candidate_id, _, similarity, _, exact = min(matches, key=lambda v: v[2])
        dedup = Dedup("exact_duplicate" if exact else "near_duplicate", candidate_id, candidate_id, similarity)
    return TimestampedValue(dataclasses.replace(article, dedup=dedup), article.ingest_time)


class _DecideFn(beam.DoFn):
    """Keyed by the article's ref: once the article and every verdict are in, labels it.

    An article without candidates is labelled at once, without state."""

    ARTICLE = ReadModifyWriteStateSpec("article", PickleCoder())
    VERDICTS = ReadModifyWriteStateSpec("verdicts", FastPrimitivesCoder())

    def process(self, keyed, article_state=beam.DoFn.StateParam(ARTICLE), verdicts=beam.DoFn.StateParam(VERDICTS)):
        _, message = keyed
        if message[0] == "article" and message[2] == 0:
            yield _label(message[1], [])
            return
        expected, received = verdicts.read() or (None, [])
        if message[0] == "article":
            article, expected = message[1], message[2]
        else:
            received.append(message)
            article = article_state.read() if expected is not None and len(received) >= expected else None
        if article is None or len(received) < expected:
            if message[0] == "article":
                article_state.write(article)
            verdicts.write((expected, received))
            return
        article_state.clear()
        verdicts.clear()
        yield _label(article, received)


def apply_chain(articles, config):
    """Prepare -> ExactBand -> Band01 .. Band{bands} -> FanOut -> Verify -> Decide."""
    params = config.sketch
    # Without expiry (a bounded replay, where every article carries the run's start as its ingest time,
    # so nothing can reach the horizon) no timer is set: at the end of a bounded input the FnApiRunner
    # fires every timer in bundles of its own, which took minutes for a few articles (measured).
    horizon = config.horizon_seconds if config.expire_entries else math.inf
    element = articles | "Prepare" >> beam.ParDo(_PrepareFn(params))
    for index in range(params.bands + 1):
        name = "ExactBand" if index == 0 else f"Band{index:02d}"
        element = (element
                   | f"Key{name}" >> beam.Map(key_by_band(index)).with_output_types(tuple[int, Any])
                   | name >> beam.ParDo(band_fn(name, horizon, config.max_bucket)))
    return (element
            | "FanOut" >> beam.ParDo(_FanOutFn(config.max_candidates)).with_output_types(tuple[int, Any])
            | "Verify" >> beam.ParDo(_VerifyFn(horizon, params)).with_output_types(tuple[int, Any])
            | "Decide" >> beam.ParDo(_DecideFn()).with_output_types(Article))
