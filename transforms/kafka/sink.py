"""Kafka sinks: enriched records to the output topic, dead letters to the dead-letter topic.

Both use an idempotent producer with ``acks=all`` and flush it in ``finish_bundle``; a bundle whose
records the broker did not acknowledge fails, so its source offsets are never committed
(see ``transforms.kafka.source`` for the commit order). A record too large for the output topic is
not retried: it becomes a dead letter (``WriteRecordsToKafka`` returns them), so no single message
can block a partition.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

from transforms import metrics
from transforms.kafka.config import KafkaSinkConfig
from transforms.kafka.serde import encode_dead_letter, encode_record, record_size
from transforms.records import DeadLetter, DeadLetterReason

__all__ = ["SINK_STAGE", "WriteRecordsToKafka", "WriteDeadLettersToKafka", "topic_max_message_bytes"]

_LOGGER = logging.getLogger(__name__)

SINK_STAGE = "sink"
# Dead letters are small (payload capped), so they are never refused for size; anything else the
# broker refuses fails the bundle (the offsets stay uncommitted and the run stops with an error).
_TOO_LARGE_ERRORS = ("MessageSizeTooLargeError", "RecordTooLargeError", "RecordBatchTooLargeError")


class _WriteToKafka(beam.PTransform):
    """What both sinks share: configuration, injectable clients, one producing DoFn per kind."""

    def __init__(self, config: KafkaSinkConfig, producer_factory: Callable | None = None,
                 admin_factory: Callable | None = None):
        super().__init__()
        self._config = config
        self._producer_factory = producer_factory
        self._admin_factory = admin_factory

    def _produce(self, kind: str):
        return beam.ParDo(_ProduceFn(self._config, kind, self._producer_factory, self._admin_factory))


class WriteRecordsToKafka(_WriteToKafka):
    """PCollection[dict] (schema v1 records) -> PCollection[DeadLetter] of records too large to write.

    Key: the record's ``id``; value: its JSON. The returned dead letters carry the record's JSON as
    payload (truncated as every dead letter is) and the record's ``source`` (topic, partition, offset).
    """

    def expand(self, records):
        return records | "Produce" >> self._produce("record")


class WriteDeadLettersToKafka(_WriteToKafka):
    """PCollection[DeadLetter] -> the dead-letter topic, as ``DeadLetter.to_dict()`` JSON.

    Key: ``topic/partition/offset`` of the message the dead letter came from. The payload is cut so
    that the dead letter fits the topic (``payload_bytes`` and ``payload_sha256`` keep the original).
    """

    def expand(self, dead_letters):
        _ = dead_letters | "Produce" >> self._produce("dead_letter")
        return beam.pvalue.PDone(dead_letters.pipeline)


def topic_max_message_bytes(admin: Any, topic: str) -> int | None:
    """The topic's ``max.message.bytes`` as the broker reports it, or None when it cannot be read."""
    from kafka.admin import ConfigResource, ConfigResourceType

    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})],
                                           config_filter="all")
        value = described["topic"][topic]["max.message.bytes"]["value"]
        return int(value)
    except Exception:  # an ACL or an old broker may refuse; the producer's own limit still applies
        _LOGGER.warning("cannot read max.message.bytes of topic %s; using the configured limit", topic, exc_info=True)
        return None


# ------------------------------------------------------------------------------------------------


def _default_producer_factory(**kwargs):
    from kafka import KafkaProducer

    return KafkaProducer(**kwargs)


def _default_admin_factory(**kwargs):
    from kafka import KafkaAdminClient

    return KafkaAdminClient(**kwargs)


class _ProduceFn(beam.DoFn):
    """Sends in ``process``, flushes in ``finish_bundle`` and checks every send of the bundle there."""

    def __init__(self, config: KafkaSinkConfig, kind: str, producer_factory: Callable | None,
                 admin_factory: Callable | None):
        self._config = config
        self._kind = kind  # "record" or "dead_letter"
        self._producer_factory = producer_factory
        self._admin_factory = admin_factory
        self._producer = None
        self._limit = config.max_record_bytes
        self._pending: list = []
        self._send_seconds = 0.0

    def setup(self):
        config = self._config
        admin = None
        try:
            admin = (self._admin_factory or _default_admin_factory)(**config.connection.client_kwargs())
            topic_limit = topic_max_message_bytes(admin, config.topic)
        finally:
            if admin is not None:
                admin.close()
        self._limit = min(config.max_record_bytes, topic_limit) if topic_limit else config.max_record_bytes
        self._producer = (self._producer_factory or _default_producer_factory)(
            acks="all", enable_idempotence=True, linger_ms=config.linger_ms,
            compression_type=config.compression_type,
            max_request_size=max(config.max_record_bytes, self._limit) + 1024,
            batch_size=min(16384, self._limit),
            **dict(config.producer_options), **config.connection.client_kwargs())

    def start_bundle(self):
        self._pending = []
        self._send_seconds = 0.0

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        started = time.monotonic()
        yield from self._send(element, timestamp, window)
        self._send_seconds += time.monotonic() - started

    def _send(self, element, timestamp, window):
        if self._kind == "record":
            key, value = encode_record(element)
            size = record_size(key, value)
            if size > self._limit:
                yield _too_large(element, value, size, self._limit, self._config.topic)
                return
        else:
            key, value = encode_dead_letter(element, self._limit)
        future = self._producer.send(self._config.topic, key=key, value=value)
        self._pending.append((future, element, value, timestamp, window))

    def finish_bundle(self):
        if not self._pending:
            return
        flush_started = time.monotonic()
        deadline = flush_started + self._config.flush_timeout_seconds
        try:
            self._producer.flush(timeout=self._config.flush_timeout_seconds)
        except Exception as err:  # kafka-python may raise here after splitting a refused batch
            _LOGGER.debug("producer flush raised %r; waiting for each send", err)
        pending, self._pending = self._pending, []
        failures = []
        for future, element, value, timestamp, window in pending:
            if not future.is_done:
                try:
                    future.get(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # the outcome is read from the future below
                    pass
            if not future.is_done:
                failures.append(f"not acknowledged within {self._config.flush_timeout_seconds} s")
                continue
            if future.succeeded():
                continue
            error = future.exception
            if self._kind == "record" and type(error).__name__ in _TOO_LARGE_ERRORS:
                dead = _too_large(element, value, record_size(None, value), self._limit, self._config.topic, error)
                yield WindowedValue(dead, timestamp, [window])
            else:
                failures.append(f"{type(error).__name__}: {error}")
        if self._kind == "record":
            written = [metrics.ingest_time_of(element) for future, element, *_ in pending if future.succeeded()]
            if written:
                metrics.observe_stage_batch("sink", self._send_seconds + time.monotonic() - flush_started, len(written))
                metrics.count_written("kafka", written)
        if failures:
            # Failing the bundle keeps its offsets uncommitted: the records are read and written again.
            raise RuntimeError(f"Kafka producer could not write {len(failures)} message(s) to "
                               f"{self._config.topic}: {failures[0]}")

    def teardown(self):
        if self._producer is not None:
            try:
                self._producer.close(timeout=self._config.flush_timeout_seconds)
            except Exception:  # teardown is best effort
                _LOGGER.warning("error closing the Kafka producer", exc_info=True)
            self._producer = None


def _too_large(record: dict, value: bytes, size: int, limit: int, topic: str, error: Exception | None = None) -> DeadLetter:
    detail = f" (broker: {type(error).__name__})" if error is not None else ""
    return DeadLetter(
        stage=SINK_STAGE,
        error_type="RecordTooLarge",
        message=f"record {record.get('id')} of {size} bytes is over the limit of {limit} bytes for topic {topic}{detail}",
        payload=value,
        source=dict(record.get("source") or {}),
        reason=DeadLetterReason.RECORD_TOO_LARGE,
    )
