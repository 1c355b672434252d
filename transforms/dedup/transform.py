"""The dedup stage as a Beam transform: ``DeduplicateArticles`` (settings: ``transforms.dedup.DedupConfig``)."""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import apache_beam as beam
from apache_beam.coders import FloatCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import TimestampedValue

from transforms import metrics
from transforms.dedup import DedupConfig
from transforms.dedup.index import DedupIndex
from transforms.dedup.sketch import analyze

_LOGGER = logging.getLogger(__name__)

__all__ = ["DeduplicateArticles"]

_ONE_KEY = 0


class DeduplicateArticles(beam.PTransform):
    """Article -> Article with ``dedup`` set; copies keep their text and are written, flagged, without NLP.

    Guarantees: an article is a copy of the earliest article (ingest time, then ordinal) within
    the horizon that was already indexed when it arrived and that verifies against it; exact
    copies (same normalized text) are always found. Every article goes through one index in input
    order, so a replay labels the same input the same way every time. Output elements carry their
    ingest time as timestamp; an article leaves before the next one enters.
    """

    def __init__(self, config: DedupConfig = DedupConfig()):
        super().__init__()
        if not config.horizon_seconds > 0:
            raise ValueError("dedup horizon must be positive")
        if not config.lateness_seconds >= 0:
            raise ValueError("dedup lateness must be zero or more")
        if config.max_bucket < 1 or config.max_candidates < 1:
            raise ValueError("max_bucket and max_candidates must be at least 1")
        self._config = config

    def expand(self, articles):
        return (articles
                | "OneKey" >> beam.Map(lambda article: (_ONE_KEY, article)).with_output_types(tuple[int, Any])
                | "Label" >> beam.ParDo(_LabelFn(self._config)))


class _LabelFn(beam.DoFn):
    """Labels each article with a ``DedupIndex`` held by the DoFn instance.

    Why not Beam state and event-time timers per bucket, as this stage first had: on the
    FnApiRunner, the runner of the Kafka job, a stage fed by an unbounded source has an input
    watermark of +inf after its first bundle, so every event-time timer fires right after the bundle
    that set it (Beam 2.77, ``fn_runner._enqueue_set_timers``): what the stage remembered was gone
    one bundle later, and copies more than a bundle apart were labelled originals. Processing-time
    timers fail a finite run instead (``time-pending bundles did not execute``). The index here
    forgets by the clock of the data (``transforms.dedup.index``), which needs no timer.

    All articles carry one key: a stateful DoFn gets one key on one worker, in order, and the
    FnApiRunner never splits a stateful stage across its workers, so one index sees every article.
    Its one state cell holds that clock, so a new instance (after a failed bundle) starts from it.
    The index lives in memory: a restarted job starts with an empty one (docs/dedup.md).
    """

    CLOCK = ReadModifyWriteStateSpec("clock", FloatCoder())

    def __init__(self, config: DedupConfig):
        self._config = config

    def setup(self):
        self._index = DedupIndex(self._config)
        self._published: dict[str, int] = {}
        self._counters = {name: Metrics.counter("dedup", name)
                          for name in ("remembered", "forgotten", "full_bucket_skips", "candidates_over_limit",
                                       "sketch_comparisons", "redelivered", "ids_derived")}

    def process(self, keyed, clock=beam.DoFn.StateParam(CLOCK)):
        article = keyed[1]
        index = self._index
        if index.clock == -math.inf:
            stored = clock.read()
            if stored is not None:
                index.advance(stored)
        analysis = analyze(article.text, self._config.sketch)
        article_id = index.distinct_id(article, analysis)
        if article_id != article.id:
            _LOGGER.warning("id %r was seen with a different text: %s carries id %r (given id kept in given_id)",
                            article.id, dict(article.source), article_id)
            article = dataclasses.replace(article, id=article_id, given_id=article.id)
        dedup = metrics.timed_call("dedup", index.label, article, analysis)
        clock.write(index.clock)
        yield TimestampedValue(dataclasses.replace(article, dedup=dedup), article.ingest_time)

    def finish_bundle(self):
        for name, counter in self._counters.items():
            total = self._index.counts[name]
            if total != self._published.get(name, 0):
                counter.inc(total - self._published.get(name, 0))
                self._published[name] = total
