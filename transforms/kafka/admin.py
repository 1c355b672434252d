"""Topic and group bookkeeping with kafka-python (no Beam): what the CLI checks before a run, and what tests read."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Iterable, Iterator, Mapping

from transforms.kafka.config import KafkaConnection

__all__ = ["KafkaAdminError", "classify_failure", "missing_topics", "create_topics", "end_offsets", "committed_offsets", "read_topic"]


class KafkaAdminError(RuntimeError):
    """The brokers cannot be reached, or a topic cannot be described or created.

    ``kind``: "unreachable", "authentication" (SASL refused), "tls" (the TLS handshake or certificate
    failed) or "request" (the brokers answered and refused the request)."""

    def __init__(self, message: str, kind: str = "request"):
        super().__init__(message)
        self.kind = kind


_AUTH = re.compile(r"sasl|authenticat|authoriz", re.IGNORECASE)
_TLS = re.compile(r"\bssl\b|tls|certificate|handshake", re.IGNORECASE)


def classify_failure(texts: Iterable[str]) -> str:
    """Why a connection failed, from the client's error texts: "authentication", "tls" or "unreachable".

    kafka-python reports all three as a bootstrap timeout; the reason is only in what it logged on the way."""
    texts = list(texts)
    if any(_AUTH.search(text) for text in texts):
        return "authentication"
    if any(_TLS.search(text) for text in texts):
        return "tls"
    return "unreachable"


_WHAT = {"unreachable": "cannot reach Kafka at {}", "authentication": "Kafka at {} refused the credentials (SASL authentication failed)",
         "tls": "TLS with Kafka at {} failed (handshake or certificate)"}


class _Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record):
        if len(self.texts) < 200:
            self.texts.append(record.getMessage()[:500])


@contextlib.contextmanager
def _connection_errors(connection: KafkaConnection) -> Iterator[None]:
    """Turn a failed bootstrap into a KafkaAdminError saying unreachable, authentication or TLS."""
    from kafka.errors import KafkaError

    recorder = _Recorder()
    logger = logging.getLogger("kafka")
    logger.addHandler(recorder)
    try:
        yield
    except KafkaError as err:
        kind = classify_failure([*recorder.texts, f"{type(err).__name__}: {err}"])
        servers = ",".join(connection.bootstrap_servers)
        raise KafkaAdminError(f"{_WHAT[kind].format(servers)}: {_short(err)}", kind) from None
    finally:
        logger.removeHandler(recorder)


def _short(error: BaseException, limit: int = 200) -> str:
    lines = str(error).strip().splitlines()
    last = lines[-1] if lines else ""
    text = last if last.startswith(type(error).__name__) else f"{type(error).__name__}: {last}".strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _consumer(connection: KafkaConnection, group_id: str | None = None):
    from kafka import KafkaConsumer

    with _connection_errors(connection):
        return KafkaConsumer(group_id=group_id, enable_auto_commit=False, **connection.client_kwargs())


def _admin(connection: KafkaConnection):
    from kafka import KafkaAdminClient

    with _connection_errors(connection):
        return KafkaAdminClient(**connection.client_kwargs())


def missing_topics(connection: KafkaConnection, topics: Iterable[str]) -> list[str]:
    consumer = _consumer(connection)
    try:
        existing = consumer.topics()
    finally:
        consumer.close()
    return [topic for topic in topics if topic not in existing]


def create_topics(connection: KafkaConnection, topics: Mapping[str, int], configs: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """Create the topics that do not exist yet (name -> partitions; -1 = broker default); returns those created."""
    from kafka.errors import KafkaError

    wanted = [topic for topic in missing_topics(connection, topics)]
    if not wanted:
        return []
    admin = _admin(connection)
    try:
        request = {topic: {"num_partitions": topics[topic], "configs": dict((configs or {}).get(topic, {}))} for topic in wanted}
        admin.create_topics(request, wait_for_metadata=True)
    except KafkaError as err:
        raise KafkaAdminError(f"cannot create topic(s) {', '.join(wanted)}: {_short(err)}") from None
    finally:
        admin.close()
    return wanted


def end_offsets(connection: KafkaConnection, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> end offset (the offset the next record will get), for every partition."""
    from kafka import TopicPartition

    consumer = _consumer(connection)
    try:
        partitions = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                raise KafkaAdminError(f"Kafka topic {topic!r} does not exist")
            partitions.extend(TopicPartition(topic, p) for p in sorted(ids))
        return {(tp.topic, tp.partition): offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def committed_offsets(connection: KafkaConnection, group_id: str, topics: Iterable[str]) -> dict[tuple[str, int], int | None]:
    """(topic, partition) -> the group's committed offset, None where it has none."""
    from kafka import TopicPartition

    consumer = _consumer(connection, group_id)
    try:
        result = {}
        for topic in topics:
            for partition in sorted(consumer.partitions_for_topic(topic) or ()):
                result[(topic, partition)] = consumer.committed(TopicPartition(topic, partition))
        return result
    finally:
        consumer.close()


def read_topic(connection: KafkaConnection, topic: str) -> list:
    """Every record of ``topic`` from the beginning to the end offsets seen now, ordered by
    (partition, offset); for tests and benchmarks. Joins no group and commits nothing."""
    from kafka import TopicPartition

    consumer = _consumer(connection)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close(autocommit=False)
