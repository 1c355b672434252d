"""Kafka in and out of the pipeline: an UnboundedSource reader, record and dead-letter sinks, their settings.

Split by concern: ``config`` (frozen settings, security from options or environment), ``serde``
(bytes in and out, no Beam), ``source`` (ReadFromKafka and its commit order), ``sink``
(WriteRecordsToKafka, WriteDeadLettersToKafka), ``admin`` (topics and offsets for the CLI and tests).
"""

from transforms.kafka.config import KafkaConnection, KafkaSinkConfig, KafkaSourceConfig, security_from_env
from transforms.kafka.sink import WriteDeadLettersToKafka, WriteRecordsToKafka
from transforms.kafka.source import KafkaCheckpointMark, KafkaUnboundedSource, ReadFromKafka, request_stop

__all__ = [
    "KafkaConnection",
    "KafkaSourceConfig",
    "KafkaSinkConfig",
    "security_from_env",
    "ReadFromKafka",
    "KafkaUnboundedSource",
    "KafkaCheckpointMark",
    "request_stop",
    "WriteRecordsToKafka",
    "WriteDeadLettersToKafka",
]
