"""Kafka source: an ``apache_beam.io.unbounded_source.UnboundedSource`` over all partitions of one or more topics.

Guarantees (at-least-once):

* Every element is a ``RawMessage`` whose timestamp is the Kafka record timestamp; the watermark is
  derived from Kafka record timestamps only (never from article dates).
* Offsets are committed to the consumer group in ``KafkaCheckpointMark.finalize_checkpoint``, which
  Beam calls through bundle finalization only after the bundle that emitted the records has
  completed. On the FnApiRunner (``--runner FnApiRunner``, our default) the whole graph from the
  source to both sinks is one fused stage, and a bundle runs, in this order::

      reader.advance()/get_current() ... (records flow through parse, dedup, NLP, sinks)
      finish_bundle of every DoFn, upstream first: the Kafka sinks flush their producers here
      get_checkpoint_mark()  (the offsets after the last emitted record of each partition)
      finalize_checkpoint()  -> OffsetCommit to the group

  so a committed offset only covers records already acknowledged by the broker (acks=all).
  ``tests/transforms/test_kafka_source.py`` checks this order. A crash before the commit replays the
  bundle: records can be written twice, never lost. Runners that split the graph into several stages
  must be checked again before use.
* Start: committed group offsets; partitions without one start at ``start_from`` (earliest/latest).
  The order holds only while the sinks are fused with the source: the FnApiRunner turns every
  multi-input Flatten into a stage boundary and runs the stage behind it after the source stage's
  bundle was finalized (and, for an unbounded source, only once the source has finished). The CLI
  checks the fusion before it runs (``pipeline/kafka_job.py``); when the sinks are not fused it
  registers the run with ``commit_at_end=True``: marks then only record their offsets, and the CLI
  commits them with ``finish_run`` after the whole pipeline, sinks included, has finished.
* ``stop_offsets`` (``--until-caught-up``) makes the source finite; ``request_stop(token)`` ends an
  unbounded read cleanly (the last checkpoint is still finalized, so its offsets are committed).
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Callable

from apache_beam import coders
from apache_beam.io.unbounded_source import CheckpointMark, ReadFromUnboundedSource, UnboundedReader, UnboundedSource
from apache_beam.transforms import PTransform
from apache_beam.utils.timestamp import MAX_TIMESTAMP, MIN_TIMESTAMP, Timestamp

from transforms.kafka.commit import (close_committers, commit_offsets, deferred_run, finish_run, register_run,
                                     request_stop, stop_event)
from transforms.kafka.config import KafkaConnection, KafkaSourceConfig
from transforms.kafka.serde import message_from_record

__all__ = [
    "DEFAULT_MAX_RECORDS_PER_BUNDLE",
    "DEFAULT_MAX_BUNDLE_SECONDS",
    "ReadFromKafka",
    "KafkaUnboundedSource",
    "KafkaCheckpointMark",
    "register_run",
    "request_stop",
    "finish_run",
    "close_committers",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_MAX_RECORDS_PER_BUNDLE = 10_000
DEFAULT_MAX_BUNDLE_SECONDS = 5.0
# While records are buffered, poll without waiting every this many records, so that the consumer's
# next fetch overlaps with the pipeline's work instead of starting when the buffer runs dry.
_TOP_UP_EVERY = 100


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
        self._source = KafkaUnboundedSource(config, consumer_factory=consumer_factory)
        self._max_records_per_bundle = max_records_per_bundle
        self._max_bundle_seconds = max_bundle_seconds

    def expand(self, pbegin):
        # poll_interval=0: the reader itself waits up to poll_timeout_ms for data before it reports
        # "nothing now" (the FnApiRunner resumes a deferred source at once, ignoring the delay).
        return pbegin | "ReadUnbounded" >> ReadFromUnboundedSource(
            self._source, poll_interval=0, max_records_per_bundle=self._max_records_per_bundle,
            max_read_time_seconds=self._max_bundle_seconds)


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

    def __init__(self, config: KafkaSourceConfig, consumer_factory: Callable | None = None):
        self.config = config
        self.consumer_factory = consumer_factory

    def split(self, desired_num_splits, options=None):
        return [self]

    def create_reader(self, options, checkpoint_mark):
        return _KafkaReader(self.config, checkpoint_mark, self.consumer_factory)

    def get_checkpoint_mark_coder(self):
        return coders.PickleCoder()

    def default_output_coder(self):
        return coders.registry.get_coder(object)


# ------------------------------------------------------------------------------------------------
# Internals.
# ------------------------------------------------------------------------------------------------

def _default_consumer_factory(**kwargs):
    from kafka import KafkaConsumer

    return KafkaConsumer(**kwargs)


def _timestamp_of(record) -> Timestamp:
    millis = record.timestamp if record.timestamp is not None and record.timestamp >= 0 else int(time.time() * 1000)
    return Timestamp(micros=millis * 1000)


class _KafkaReader(UnboundedReader):
    """Drives one kafka-python consumer with manual assignment of every partition of the topics.

    ``advance`` waits at most ``poll_timeout_ms`` for data (a short, bounded wait rather than a busy
    loop: the FnApiRunner resumes an idle source immediately).
    """

    def __init__(self, config: KafkaSourceConfig, checkpoint_mark: KafkaCheckpointMark | None,
                 consumer_factory: Callable | None):
        self._config = config
        self._resume = checkpoint_mark.next_offsets() if checkpoint_mark is not None else {}
        self._factory = consumer_factory or _default_consumer_factory
        self._stop = stop_event(config.run_token) if config.run_token else None
        self._stop_at = ({(t, p): o for t, p, o in config.stop_offsets} if config.stop_offsets is not None else None)
        self._consumer = None
        self._partitions: list = []
        self._next: dict = {}  # TopicPartition -> next offset to emit
        self._done: set = set()  # partitions read up to their stop offset
        self._buffer: collections.deque = collections.deque()
        self._buffered: collections.Counter = collections.Counter()
        self._last_ts: dict = {}  # TopicPartition -> highest timestamp (micros) emitted
        self._watermark = MIN_TIMESTAMP
        self._current = None
        self._current_ts = None
        self._finished = False
        self._since_top_up = 0

    # -- UnboundedReader -----------------------------------------------------------------------

    def start(self) -> bool:
        from kafka import TopicPartition

        config = self._config
        self._consumer = self._factory(
            group_id=config.group_id, enable_auto_commit=False, auto_offset_reset=config.start_from,
            max_poll_records=config.max_poll_records, fetch_max_bytes=config.fetch_max_bytes,
            max_partition_fetch_bytes=config.max_partition_fetch_bytes,
            **dict(config.consumer_options), **config.connection.client_kwargs())
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
        if not self._buffer:
            if not self._fill(self._config.poll_timeout_ms):
                return False
        else:
            self._since_top_up += 1
            if self._since_top_up >= _TOP_UP_EVERY and len(self._buffer) < self._config.max_poll_records:
                # Let the consumer send its next fetches while the pipeline works through the buffer.
                self._fill(0)
        tp, record = self._buffer.popleft()
        self._buffered[tp] -= 1
        self._next[tp] = record.offset + 1
        timestamp = _timestamp_of(record)
        if timestamp.micros > self._last_ts.get(tp, -1):
            self._last_ts[tp] = timestamp.micros
        self._current = message_from_record(record)
        self._current_ts = timestamp
        return True

    def get_current(self):
        return self._current

    def get_current_timestamp(self) -> Timestamp:
        return self._current_ts

    def get_watermark(self) -> Timestamp:
        return MAX_TIMESTAMP if self._finished else self._watermark

    def get_checkpoint_mark(self) -> KafkaCheckpointMark:
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

    def _fill(self, timeout_ms: int) -> bool:
        """Poll once; True when the buffer holds a record to emit."""
        self._since_top_up = 0
        if self._stop_at is not None and self._all_done():
            self._finish()
            return False
        polled = self._consumer.poll(timeout_ms=timeout_ms, max_records=self._config.max_poll_records)
        batch_minimum = []
        for tp, records in polled.items():
            stop = self._stop_at.get((tp.topic, tp.partition)) if self._stop_at is not None else None
            kept = 0
            lowest = None
            for record in records:
                if stop is not None and record.offset >= stop:
                    break  # beyond what --until-caught-up covers; read by the next run
                self._buffer.append((tp, record))
                kept += 1
                ts = record.timestamp
                if lowest is None or ts < lowest:
                    lowest = ts
            self._buffered[tp] += kept
            if lowest is not None:
                batch_minimum.append(lowest * 1000)
        self._sync_positions()
        self._mark_done_partitions()
        self._update_watermark(batch_minimum)
        if self._buffer:
            return True
        if self._stop_at is not None and self._all_done():
            self._finish()
        return False

    def _sync_positions(self) -> None:
        # A partition with nothing buffered is at the consumer's position (which also skips offsets
        # that hold no record, such as transaction markers). Not after a stop: the records dropped
        # from the buffer then lie below the consumer's position and must be read again.
        if self._consumer is None or self._finished:
            return
        for tp in self._partitions:
            if not self._buffered[tp] and tp not in self._done:
                position = self._consumer.position(tp)
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
            if self._next.get(tp) is not None and self._next[tp] >= self._stop_at[(tp.topic, tp.partition)] \
                    and not self._buffered[tp]:
                newly_done.append(tp)
        if newly_done:
            self._done.update(newly_done)
            self._consumer.pause(*newly_done)

    def _all_done(self) -> bool:
        return len(self._done) == len(self._partitions)

    def _update_watermark(self, batch_minimum: list) -> None:
        # Lower bound of what is still to come: the oldest buffered timestamp, and for partitions
        # that have unread data on the broker, the newest timestamp emitted from them so far.
        # Partitions that are caught up do not hold the watermark back.
        candidates = list(batch_minimum)
        for tp in self._partitions:
            if self._buffered[tp] or tp in self._done:
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
        # Records fetched but not emitted are dropped: their offsets are not committed.
        self._buffer.clear()
        self._buffered.clear()
