"""The dedup stage as one linear chain of DoFns: Prepare -> ExactBand -> Band01 .. BandNN -> Decide.

No Flatten, no GroupByKey: on the FnApiRunner every multi-input Flatten or grouping is a fusion
break, and behind a fusion break an unbounded source's output is processed only once the source
has ended. Keyed stateful DoFns do not break fusion, so this chain runs in step with the source.

Each band stage is keyed by the article's key for that band (the exact band: its content hash).
A stage's state is private to it, so every bucket entry carries what verification needs:

  entry  = ingest time (f64), ordinal (i64), ref (8 B), len(id) (u16), len(sketch) (u16), id, sketch
  sketch = compact packed sketch (``pack_sketch``): size u32, three u8 counts, bottom-k as u32,
           lead and figures as 16-bit hashes; empty in the exact band (every entry there is an
           exact copy of the same normalized text).

The element that travels along the chain (a plain tuple, never encoded inside the fused stage):

  (article, ref, order, keys, packed_sketch, sketch, compared, best, budget)

``order`` = (ingest time, ordinal, ref), smaller = earlier; ``keys``: one per band stage (None when
the text has no band key); ``compared``: refs already compared in earlier bands; ``best``: the
earliest verified match so far, (order, id, similarity, exact), or None; ``budget``: sketch
comparisons left (``max_candidates``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import struct
from typing import Any

import apache_beam as beam
import numpy as np
import orjson
from apache_beam.coders import BytesCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from transforms.dedup.sketch import Sketch, analyze, compare, exact_band_key, is_duplicate
from transforms.records import Article, Dedup

_LOGGER = logging.getLogger(__name__)

REF_BYTES = 8
# An entry's fixed part: ingest time, ordinal, ref, id length, sketch length (28 bytes).
_ENTRY = struct.Struct(f"<dq{REF_BYTES}sHH")
# A compact sketch's header: size, number of bottom-k, lead and figure hashes (7 bytes).
_SKETCH = struct.Struct("<IBBB")
_MISSING_KEY = -1  # a band the text has no key for: the stage passes the element on untouched


def message_ref(article: Article) -> bytes:
    """8 bytes naming one message: the same for a message read twice, different for two messages."""
    identity = orjson.dumps([article.id, dict(article.source), article.ordinal, article.ingest_time],
                            option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(identity, digest_size=REF_BYTES).digest()


def compact_sketch(sketch: Sketch) -> Sketch:
    """The sketch as the band entries keep it: lead and figure hashes cut to their low 16 bits.

    Those two parts are only intersected as sets, so 16 bits change an overlap by about one
    false common hash in 1,400 pairs of 48-hash windows; the bottom-k hashes stay 32-bit
    because the estimate needs their order against the other sketch's largest kept hash."""
    return Sketch(sketch.size, sketch.bottom[:255], tuple(v & 0xFFFF for v in sketch.lead[:255]),
                  tuple(v & 0xFFFF for v in sketch.numbers[:255]))


def pack_sketch(sketch: Sketch) -> bytes:
    """A compact sketch as bytes: 7 + 4 x bottom-k + 2 x (lead + figures)."""
    return (_SKETCH.pack(sketch.size, len(sketch.bottom), len(sketch.lead), len(sketch.numbers))
            + np.asarray(sketch.bottom, dtype="<u4").tobytes()
            + np.asarray(sketch.lead + sketch.numbers, dtype="<u2").tobytes())


def unpack_sketch(data: bytes) -> Sketch:
    size, n_bottom, n_lead, n_numbers = _SKETCH.unpack_from(data)
    bottom = np.frombuffer(data, dtype="<u4", count=n_bottom, offset=_SKETCH.size).tolist()
    rest = np.frombuffer(data, dtype="<u2", count=n_lead + n_numbers, offset=_SKETCH.size + 4 * n_bottom).tolist()
    return Sketch(size, tuple(bottom), tuple(rest[:n_lead]), tuple(rest[n_lead:]))


def pack_entry(time: float, ordinal: int, ref: bytes, article_id: str, sketch: bytes) -> bytes:
    encoded = article_id.encode("utf-8")[:0xFFFF]
    return _ENTRY.pack(time, ordinal, ref, len(encoded), len(sketch)) + encoded + sketch


def iter_entries(packed: bytes):
    """(time, ordinal, ref, id, sketch bytes, start, end) of every entry of a packed bucket."""
    start, end = 0, len(packed)
    while start < end:
        time, ordinal, ref, id_length, sketch_length = _ENTRY.unpack_from(packed, start)
        id_start = start + _ENTRY.size
        sketch_start = id_start + id_length
        stop = sketch_start + sketch_length
        yield (time, ordinal, ref, packed[id_start:sketch_start].decode("utf-8"),
               packed[sketch_start:stop], start, stop)
        start = stop


class _PrepareFn(beam.DoFn):
    """Article -> the element that travels the chain: ref, order, one key per band, compact sketch."""

    def __init__(self, params):
        self._params = params

    def process(self, article: Article):
        analysis = analyze(article.text, self._params)
        ref = message_ref(article)
        keys = (exact_band_key(analysis.content_key),) + analysis.band_keys
        keys += (None,) * (1 + self._params.bands - len(keys))
        sketch = compact_sketch(analysis.sketch)
        order = (article.ingest_time, article.ordinal, ref)
        yield (article, ref, order, keys, pack_sketch(sketch), sketch, frozenset(), None, None)


def key_by_band(index: int):
    """The element keyed by its key for band ``index`` (a deterministic int key)."""

    def key(element):
        band_key = element[3][index]
        return (_MISSING_KEY if band_key is None else band_key), element

    return key


class _BandFn(beam.DoFn):
    """One LSH band (or the exact band), keyed by the band key; state: the bucket's packed entries.

    Compares the passing article with the live entries of its bucket that came earlier (ingest
    time, ordinal, ref), that are earlier than its best match so far and that no earlier band
    compared; the earliest verified entry becomes the best match. Then appends the article's
    own entry. A bucket keeps at most ``max_bucket`` entries, the earliest ones (the likeliest
    originals). Entries older than the horizon (ingest time) are never compared; an event-time
    timer set when the bucket starts drops them once the watermark passes their expiry and
    re-arms for the oldest entry left.
    """

    ENTRIES = ReadModifyWriteStateSpec("entries", BytesCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, exact: bool, horizon: float, max_bucket: int, max_candidates: int, params):
        self._exact = exact
        self._horizon = horizon
        self._max_bucket = max_bucket
        self._max_candidates = max_candidates
        self._params = params
        self._expired = Metrics.counter("dedup", "expired_buckets")
        self._full = Metrics.counter("dedup", "full_bucket_skips")
        self._buckets = Metrics.counter("dedup", "buckets_started")
        self._entries = Metrics.counter("dedup", "band_entries_written")
        self._bytes = Metrics.counter("dedup", "band_entry_bytes_written")
        self._comparisons = Metrics.counter("dedup", "sketch_comparisons")
        self._over_budget = Metrics.counter("dedup", "candidates_over_budget")

    def process(self, keyed, entries=beam.DoFn.StateParam(ENTRIES), expiry=beam.DoFn.TimerParam(EXPIRY)):
        key, element = keyed
        if key == _MISSING_KEY:
            yield element
            return
        article, ref, order, keys, packed_sketch, sketch, compared, best, budget = element
        if budget is None:
            budget = self._max_candidates
        time = order[0]
        packed = entries.read() or b""
        stored = sorted(iter_entries(packed)) if packed else []
        seen_self = False
        newly_compared = []
        for entry in stored:
            entry_order = entry[:3]
            if entry[2] == ref:
                seen_self = True  # the same message again: never its own copy, nothing to append
                continue
            if entry_order >= order or (best is not None and entry_order >= best[0]):
                continue  # sorted: a later entry cannot be an earlier match
            if entry[0] + self._horizon <= time or entry[2] in compared or entry[3] == article.id:
                continue
            newly_compared.append(entry[2])
            if self._exact:
                best = (entry_order, entry[3], 1.0, True)
                break
            if budget <= 0:
                self._over_budget.inc()
                continue
            budget -= 1
            self._comparisons.inc()
            measured = compare(unpack_sketch(entry[4]), sketch, self._params)
            if is_duplicate(measured, self._params):
                best = (entry_order, entry[3], round(measured.containment, 4), False)
                break  # entries are in order: the first verified one is this bucket's earliest
        if newly_compared:
            compared = compared.union(newly_compared)
        yield (article, ref, order, keys, packed_sketch, sketch, compared, best, budget)
        if seen_self:
            return
        if len(stored) >= self._max_bucket:
            self._full.inc()
            return
        own = pack_entry(time, order[1], ref, article.id, b"" if self._exact else packed_sketch)
        entries.write(packed + own)
        self._entries.inc()
        self._bytes.inc(len(own))
        if not packed:
            expiry.set(Timestamp.of(time + self._horizon))
            self._buckets.inc()

    @on_timer(EXPIRY)
    def expire(self, fired=beam.DoFn.TimestampParam, entries=beam.DoFn.StateParam(ENTRIES),
               expiry=beam.DoFn.TimerParam(EXPIRY)):
        now = fired.micros / 1e6
        packed = entries.read() or b""
        live = [e for e in iter_entries(packed) if e[0] + self._horizon > now]
        if live:
            entries.write(b"".join(packed[e[5]:e[6]] for e in live))
            expiry.set(Timestamp.of(min(e[0] for e in live) + self._horizon))
        else:
            entries.clear()
            self._expired.inc()


class _DecideFn(beam.DoFn):
    """Stateless: the article labelled from its best match (an original when there is none),
    timestamped with its ingest time."""

    def process(self, element):
        article, best = element[0], element[7]
        if best is None:
            dedup = Dedup("original", None, article.id, None)
        else:
            _, candidate_id, similarity, exact = best
            dedup = Dedup("exact_duplicate" if exact else "near_duplicate", candidate_id, candidate_id, similarity)
        yield TimestampedValue(dataclasses.replace(article, dedup=dedup), article.ingest_time)


def apply_chain(articles, config):
    """Prepare -> ExactBand -> Band01 .. Band{bands} -> Decide, each band keyed by its own key."""
    params = config.sketch
    element = articles | "Prepare" >> beam.ParDo(_PrepareFn(params))
    for index in range(params.bands + 1):
        name = "ExactBand" if index == 0 else f"Band{index:02d}"
        element = (element
                   | f"Key{name}" >> beam.Map(key_by_band(index)).with_output_types(tuple[int, Any])
                   | name >> beam.ParDo(_BandFn(index == 0, config.horizon_seconds, config.max_bucket,
                                                config.max_candidates, params)))
    return element | "Decide" >> beam.ParDo(_DecideFn()).with_output_types(Article)
