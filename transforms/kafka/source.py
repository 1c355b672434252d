"""Kafka source: an ``apache_beam.io.unbounded_source.UnboundedSource`` over all partitions of one or more topics.

Guarantees (at-least-once):

* Every element ``ReadFromKafka`` outputs is a ``RawMessage`` whose timestamp is the Kafka record
  timestamp (the reader emits one ``PollBatch`` per poll, split into messages by a fused DoFn); the
  watermark is derived from Kafka record timestamps only (never from article dates).
* Offsets are committed to the consumer group in ``KafkaCheckpointMark.finalize_checkpoint``, which
  Beam calls through bundle finalization only after the bundle that emitted the records has
  completed. On the FnApiRunner (``--runner FnApiRunner``, our default) the whole graph from the
  source to both sinks is one fused stage, and a bundle runs, in this order::

      reader.advance()/get_current() ... (records flow through parse, dedup, NLP, sinks)
      finish_bundle of every DoFn, upstream first: the Kafka sinks flush their producers here
      get_checkpoint_mark()  (the offsets after the last emitted record of each partition)
      finalize_checkpoint()  -> OffsetCommit to the group

  so a committed offset only covers records already acknowledged by the broker (acks=all).
  ``tests/transforms/kafka/test_source.py`` checks this order. A crash before the commit replays the
  bundle: records can be written twice, never lost. Runners that split the graph into several stages
  must be checked again before use.
* Start: committed group offsets; partitions without one start at ``start_from`` (earliest/latest).
  The order holds only while the sinks are fused with the source: the FnApiRunner turns every
  multi-input Flatten into a stage boundary and runs the stage behind it after the source stage's
  bundle was finalized (and, for an unbounded source, only once the source has finished). The CLI
  checks the fusion before it runs (``pipeline/run.py``); when the sinks are not fused it
  registers the run with ``commit_at_end=True``: marks then only record their offsets, and the CLI
  commits them with ``finish_run`` after the whole pipeline, sinks included, has finished.
* ``stop_offsets`` (``--until-caught-up``) makes the source finite; ``request_stop(token)`` ends an
  unbounded read cleanly (the last checkpoint is still finalized, so its offsets are committed).
"""

from __future__ import annotations

import logging
import pickle
import time
from typing import Callable

from apache_beam import coders
from apache_beam.io.unbounded_source import CheckpointMark, ReadFromUnboundedSource, UnboundedReader, UnboundedSource
from apache_beam.transforms import DoFn, ParDo, PTransform
from apache_beam.utils.timestamp import MAX_TIMESTAMP, MIN_TIMESTAMP, Timestamp
from apache_beam.utils.windowed_value import create as create_windowed_value

from transforms.kafka.commit import (close_committers, commit_offsets, deferred_run, finish_run, register_run,
                                     request_stop, stop_event)
from transforms.kafka.config import (DEFAULT_MAX_BUNDLE_SECONDS, DEFAULT_MAX_RECORDS_PER_BUNDLE, KafkaConnection,
                                     KafkaSourceConfig)
from transforms.kafka.serde import message_from_record

__all__ = [
    "ReadFromKafka",
    "KafkaUnboundedSource",
    "KafkaCheckpointMark",
    "register_run",
    "request_stop",
    "finish_run",
    "close_committers",
]

_LOGGER = logging.getLogger(__name__)


class ReadFromKafka(PTransform):
    """PBegin -> PCollection[RawMessage] from every partition of ``config.topics``.

    A bundle ends after ``max_records_per_bundle`` records or ``max_bundle_seconds`` of reading, or
    when no record arrived within ``config.poll_timeout_ms``; its offsets are committed after the
    sinks downstream have flushed (see the module docstring).
    """

    def __init__(self, config: KafkaSourceConfig, *, max_records_per_bundle: int = DEFAULT_MAX_RECORDS_PER_BUNDLE,
                 max_bundle_seconds: float = DEFAULT_MAX_BUNDLE_SECONDS, consumer_factory: Callable | None = None):
        super().__init__()
        if max_records_per_bundle < 1:
            raise ValueError(f"max_records_per_bundle must be >= 1, got {max_records_per_bundle}")
        if max_bundle_seconds <= 0:
            raise ValueError(f"max_bundle_seconds must be > 0, got {max_bundle_seconds}")
        self._source = KafkaUnboundedSource(config, consumer_factory=consumer_factory,
                                            max_records_per_bundle=max_records_per_bundle)
        self._max_records_per_bundle = max_records_per_bundle
        self._max_bundle_seconds = max_bundle_seconds

    def expand(self, pbegin):
        # poll_interval=0: the reader itself waits up to poll_timeout_ms for data before it reports
        # "nothing now" (the FnApiRunner resumes a deferred source at once, ignoring the delay).
        # The reader emits one element per poll and counts the bundle's records itself; the
        # wrapper's own cap counts elements, so it is never the one that ends a bundle.
        return (pbegin
                | "ReadUnbounded" >> ReadFromUnboundedSource(
                    self._source, poll_interval=0, max_records_per_bundle=self._max_records_per_bundle,
                    max_read_time_seconds=self._max_bundle_seconds)
                | "OneElementPerMessage" >> ParDo(_SplitPollFn()))


class _SplitPollFn(DoFn):
    """One poll's messages as one element each, stamped with its own Kafka timestamp.

    Beam's unbounded-source wrapper costs about 7 µs per element on the FnApiRunner (a claim through
    three tracker layers, two watermark-estimator calls and window assignment per record), as much
    as kafka-python's own decoding; paying it once per poll and splitting here keeps the source near
    the plain consumer (BENCHMARKS.md, Kafka). A message's timestamp is never earlier than its
    poll's, which is the oldest of the poll, so the watermark still holds.
    """

    def process(self, messages, window=DoFn.WindowParam, pane=DoFn.PaneInfoParam):
        windows = (window,)
        # ``create`` takes the timestamp in microseconds as it is stored: building a Timestamp per
        # message cost more than the rest of this loop (0.5 against 0.1 us per message).
        return [create_windowed_value(message, round(message.ingest_time * 1_000_000), windows, pane)
                for message in messages]


class PollBatch(tuple):
    """The messages of one poll: what the reader emits; ``ReadFromKafka`` outputs them one by one."""

    __slots__ = ()


class PollBatchCoder(coders.Coder):
    """Pickles a poll's messages; estimates their size without encoding them.

    Beam samples element sizes for its statistics by encoding sampled elements: a poll of a thousand
    articles pickled on every sample cost more CPU than reading them.
    """

    def encode(self, value: PollBatch) -> bytes:
        return pickle.dumps(tuple(value), pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> PollBatch:
        return PollBatch(pickle.loads(encoded))

    def estimate_size(self, value: PollBatch) -> int:
        return sum(len(message.payload) for message in value) + 96 * len(value)

    def to_type_hint(self):
        return PollBatch


coders.registry.register_coder(PollBatch, PollBatchCoder)


class KafkaCheckpointMark(CheckpointMark):
    """Next offset to read for each partition, after the records emitted so far.

    ``finalize_checkpoint`` commits exactly these offsets for the group (absolute positions, so
    calling it again or for an older mark is harmless: a process never moves a commit backwards).
    """

    def __init__(self, offsets: tuple[tuple[str, int, int], ...], connection: KafkaConnection, group_id: str,
                 consumer_factory: Callable | None = None, run_token: str | None = None):
        self.offsets = offsets
        self.connection = connection
        self.group_id = group_id
        self.consumer_factory = consumer_factory
        self.run_token = run_token

    def finalize_checkpoint(self) -> None:
        if not self.offsets:
            return
        run = deferred_run(self.run_token)
        if run is not None:
            run.defer(self)
            return
        commit_offsets(self.connection, self.group_id, self.consumer_factory, self.offsets)

    def next_offsets(self) -> dict[tuple[str, int], int]:
        return {(topic, partition): offset for topic, partition, offset in self.offsets}

    def __eq__(self, other):
        return isinstance(other, KafkaCheckpointMark) and (self.offsets, self.group_id) == (other.offsets, other.group_id)

    def __hash__(self):
        return hash((self.offsets, self.group_id))

    def __repr__(self):
        return f"KafkaCheckpointMark(group_id={self.group_id!r}, offsets={self.offsets!r})"


class KafkaUnboundedSource(UnboundedSource):
    """All partitions of the configured topics, read by one kafka-python consumer (``split`` keeps it whole).

    One reader per pipeline is deliberate: the FnApiRunner runs the fused, stateful stage on one
    thread anyway, and a single consumer with manual assignment keeps the commit bookkeeping exact.
    Partitions are listed when a reader starts; partitions added later are read after a restart.
    """

    def __init__(self, config: KafkaSourceConfig, consumer_factory: Callable | None = None,
                 max_records_per_bundle: int = DEFAULT_MAX_RECORDS_PER_BUNDLE):
        self.config = config
        self.consumer_factory = consumer_factory
        self.max_records_per_bundle = max_records_per_bundle

    def split(self, desired_num_splits, options=None):
        return [self]

    def create_reader(self, options, checkpoint_mark):
        return _KafkaReader(self.config, checkpoint_mark, self.consumer_factory, self.max_records_per_bundle)

    def get_checkpoint_mark_coder(self):
        return coders.PickleCoder()

    def default_output_coder(self):
        return PollBatchCoder()


# ------------------------------------------------------------------------------------------------
# Internals.
# ------------------------------------------------------------------------------------------------

def _default_consumer_factory(**kwargs):
    from kafka import KafkaConsumer

    return KafkaConsumer(**kwargs)


class _KafkaReader(UnboundedReader):
    """Drives one kafka-python consumer with manual assignment of every partition of the topics.

    Each element is one poll's records (a tuple of ``RawMessage``), stamped with the oldest Kafka
    timestamp among them; ``ReadFromKafka`` splits it into one element per message. ``advance``
    waits at most ``poll_timeout_ms`` for data (a short, bounded wait rather than a busy loop: the
    FnApiRunner resumes an idle source immediately), and reports "no data now" once the bundle holds
    ``max_records_per_bundle`` records, which ends the bundle (the budget restarts at the checkpoint).
    """

    def __init__(self, config: KafkaSourceConfig, checkpoint_mark: KafkaCheckpointMark | None,
                 consumer_factory: Callable | None, max_records_per_bundle: int = DEFAULT_MAX_RECORDS_PER_BUNDLE):
        self._config = config
        self._resume = checkpoint_mark.next_offsets() if checkpoint_mark is not None else {}
        self._factory = consumer_factory or _default_consumer_factory
        self._stop = stop_event(config.run_token) if config.run_token else None
        self._stop_at = ({(t, p): o for t, p, o in config.stop_offsets} if config.stop_offsets is not None else None)
        self._max_records_per_bundle = max_records_per_bundle
        self._in_bundle = 0  # records emitted since the last checkpoint
        self._consumer = None
        self._partitions: list = []
        self._next: dict = {}  # TopicPartition -> next offset to emit
        self._done: set = set()  # partitions read up to their stop offset
        self._last_ts: dict = {}  # TopicPartition -> highest timestamp (micros) emitted
        self._watermark = MIN_TIMESTAMP
        self._current = None
        self._current_ts = None
        self._finished = False

    # -- UnboundedReader -----------------------------------------------------------------------

    def start(self) -> bool:
        from kafka import TopicPartition

        config = self._config
        self._consumer = self._factory(group_id=config.group_id, auto_offset_reset=config.start_from,
                                       **config.consumer_kwargs())
        if self._stop_at is not None:
            partitions = [TopicPartition(t, p) for t, p in sorted(self._stop_at)]
        else:
            partitions = []
            for topic in config.topics:
                ids = self._consumer.partitions_for_topic(topic)
                if not ids:
                    raise RuntimeError(f"Kafka topic {topic!r} does not exist or has no partitions")
                partitions.extend(TopicPartition(topic, p) for p in sorted(ids))
        self._partitions = partitions
        self._consumer.assign(partitions)
        for tp in partitions:
            resume = self._resume.get((tp.topic, tp.partition))
            if resume is not None:
                self._consumer.seek(tp, resume)
            # Committed offset, else start_from; blocks once, at start.
            self._next[tp] = self._consumer.position(tp)
        self._mark_done_partitions()
        _LOGGER.info("Kafka reader for group %s starts at %s", config.group_id,
                     {f"{tp.topic}/{tp.partition}": o for tp, o in self._next.items()})
        return self.advance()

    def advance(self) -> bool:
        if self._finished:
            return False
        if self._stop is not None and self._stop.is_set():
            _LOGGER.info("Kafka reader for group %s stops on request", self._config.group_id)
            self._finish()
            return False
        budget = self._max_records_per_bundle - self._in_bundle
        if budget <= 0:
            return False  # the bundle is full: "no data now" makes the wrapper checkpoint and resume
        if self._stop_at is not None and self._all_done():
            self._finish()
            return False
        polled = self._consumer.poll(timeout_ms=self._config.poll_timeout_ms,
                                     max_records=min(budget, self._config.max_poll_records))
        batch = []
        batch_minimum = []
        for tp, records in polled.items():
            stop = self._stop_at.get((tp.topic, tp.partition)) if self._stop_at is not None else None
            if stop is not None and records and records[-1].offset >= stop:
                # Beyond what --until-caught-up covers: read by the next run.
                records = [record for record in records if record.offset < stop]
            if not records:
                continue
            stamps = [record.timestamp for record in records]
            try:
                lowest = min(stamps)
            except TypeError:  # None among them
                lowest = None
            if lowest is None or lowest < 0:
                # Records without a timestamp get the time they were read.
                now = int(time.time() * 1000)
                stamps = [now if millis is None or millis < 0 else millis for millis in stamps]
                batch.extend([message_from_record(record, millis) for record, millis in zip(records, stamps)])
                lowest = min(stamps)
            else:
                batch.extend([message_from_record(record) for record in records])
            highest = max(stamps)
            self._next[tp] = records[-1].offset + 1
            batch_minimum.append(lowest * 1000)
            if highest * 1000 > self._last_ts.get(tp, -1):
                self._last_ts[tp] = highest * 1000
        self._sync_positions()
        self._mark_done_partitions()
        self._update_watermark(batch_minimum)
        if batch:
            self._current = PollBatch(batch)
            self._current_ts = Timestamp(micros=min(batch_minimum))
            self._in_bundle += len(batch)
            return True
        if self._stop_at is not None and self._all_done():
            self._finish()
        return False

    def get_current(self):
        return self._current

    def get_current_timestamp(self) -> Timestamp:
        return self._current_ts

    def get_watermark(self) -> Timestamp:
        return MAX_TIMESTAMP if self._finished else self._watermark

    def get_checkpoint_mark(self) -> KafkaCheckpointMark:
        # Beam asks for the mark when it ends a bundle: the next bundle gets a fresh record budget.
        self._in_bundle = 0
        self._sync_positions()
        offsets = tuple(sorted((tp.topic, tp.partition, offset) for tp, offset in self._next.items()
                               if offset is not None))
        factory = self._factory if self._factory is not _default_consumer_factory else None
        return KafkaCheckpointMark(offsets, self._config.connection, self._config.group_id, factory,
                                   self._config.run_token)

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False)
            except Exception:  # closing is best effort
                _LOGGER.warning("error closing the Kafka consumer", exc_info=True)
            self._consumer = None

    # -- internals -------------------------------------------------------------------------------

    def _sync_positions(self) -> None:
        # Every record a poll returned is emitted with that poll's batch, so a partition is at the
        # consumer's position (which also skips offsets that hold no record, such as transaction
        # markers). Not after a stop: nothing more is emitted then.
        if self._consumer is None or self._finished:
            return
        from kafka.errors import KafkaError

        for tp in self._partitions:
            if tp in self._done:
                continue
            try:
                position = self._consumer.position(tp)
            except KafkaError as error:
                # After a disconnect kafka-python revalidates positions against the broker's metadata;
                # with the broker down that fails at once. The records emitted already moved
                # ``_next``: skipping the gap check until the broker answers loses nothing.
                if not getattr(error, "retriable", False):
                    raise
                _LOGGER.warning("Kafka position of %s/%s unavailable (%s: %s); kept at %s", tp.topic, tp.partition,
                                type(error).__name__, error, self._next.get(tp))
                continue
            if position is None:
                continue
            if self._stop_at is not None:
                # Records past the stop offset were fetched but dropped: never commit beyond it.
                position = min(position, self._stop_at[(tp.topic, tp.partition)])
            if self._next.get(tp) is None or position > self._next[tp]:
                self._next[tp] = position

    def _mark_done_partitions(self) -> None:
        if self._stop_at is None:
            return
        newly_done = []
        for tp in self._partitions:
            if tp in self._done:
                continue
            if self._next.get(tp) is not None and self._next[tp] >= self._stop_at[(tp.topic, tp.partition)]:
                newly_done.append(tp)
        if newly_done:
            self._done.update(newly_done)
            self._consumer.pause(*newly_done)

    def _all_done(self) -> bool:
        return len(self._done) == len(self._partitions)

    def _update_watermark(self, batch_minimum: list) -> None:
        # Lower bound of what is still to come: the oldest timestamp of the batch being emitted, and
        # for partitions that have unread data on the broker, the newest timestamp emitted from them
        # so far. Partitions that are caught up do not hold the watermark back.
        candidates = list(batch_minimum)
        for tp in self._partitions:
            if tp in self._done:
                continue
            highwater = self._consumer.highwater(tp)
            lagging = highwater is not None and self._next.get(tp) is not None and self._next[tp] < highwater
            if lagging and tp in self._last_ts:
                candidates.append(self._last_ts[tp])
        if candidates:
            micros = min(candidates)
        elif self._last_ts:
            micros = max(self._last_ts.values())
        else:
            return
        if micros > self._watermark.micros:
            self._watermark = Timestamp(micros=micros)

    def _finish(self) -> None:
        self._finished = True
        self._current = None
