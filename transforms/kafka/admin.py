"""Topic and group bookkeeping with kafka-python (no Beam): what the CLI checks before a run, and what tests read."""

from __future__ import annotations

from typing import Iterable, Mapping

from transforms.kafka.config import KafkaConnection

__all__ = ["KafkaAdminError", "missing_topics", "create_topics", "end_offsets", "committed_offsets", "read_topic"]


class KafkaAdminError(RuntimeError):
    """The brokers cannot be reached, or a topic cannot be described or created."""


def _consumer(connection: KafkaConnection, group_id: str | None = None):
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        return KafkaConsumer(group_id=group_id, enable_auto_commit=False, **connection.client_kwargs())
    except KafkaError as err:
        raise KafkaAdminError(f"cannot reach Kafka at {','.join(connection.bootstrap_servers)}: {err}") from None


def _admin(connection: KafkaConnection):
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        return KafkaAdminClient(**connection.client_kwargs())
    except KafkaError as err:
        raise KafkaAdminError(f"cannot reach Kafka at {','.join(connection.bootstrap_servers)}: {err}") from None


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
        raise KafkaAdminError(f"cannot create topic(s) {', '.join(wanted)}: {err}") from None
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
