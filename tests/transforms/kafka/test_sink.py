"""The Kafka sinks on the broker: a record the broker refuses for size becomes a dead letter, dead letters fit."""

from __future__ import annotations

import hashlib

import apache_beam as beam
import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.kafka.config import KafkaSinkConfig
from transforms.kafka.sink import WriteDeadLettersToKafka, WriteRecordsToKafka
from transforms.records import DeadLetter

pytestmark = pytest.mark.kafka


class _BlindAdmin:
    """An admin client that may not read topic configs (as under a restrictive ACL)."""

    def __init__(self, **_):
        pass

    def describe_configs(self, *_, **__):
        raise PermissionError("describe_configs denied")

    def close(self):
        pass


def test_a_record_the_broker_refuses_for_size_becomes_a_dead_letter_at_flush(kafka, kafka_names):
    out = kafka.create_topic(kafka_names("out"), configs={"max.message.bytes": "5000"})
    dlq = kafka.create_topic(kafka_names("dlq"))
    records = [{"id": "small", "source": {"topic": "in", "partition": 0, "offset": 0}, "text": "short"},
               {"id": "big", "source": {"topic": "in", "partition": 0, "offset": 1}, "text": "x" * 8000}]
    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as root:
        # The sink cannot learn the topic's limit, so the broker's refusal is what it sees.
        _ = (root | beam.Create(records)
             | WriteRecordsToKafka(KafkaSinkConfig(kafka.connection, out), admin_factory=_BlindAdmin)
             | WriteDeadLettersToKafka(KafkaSinkConfig(kafka.connection, dlq)))
    assert [r.key for r in kafka.read_all(out)] == [b"small"]
    (dead,) = kafka.read_all(dlq)
    letter = orjson.loads(dead.value)
    assert dead.key == b"in/0/1"
    assert letter["error"]["stage"] == "sink" and letter["error"]["type"] == "RecordTooLarge"
    assert "MessageSizeTooLargeError" in letter["error"]["message"]
    assert orjson.loads(letter["payload"])["id"] == "big"


def test_a_dead_letter_with_a_huge_payload_is_truncated_to_fit_its_topic(kafka, kafka_names):
    dlq = kafka.create_topic(kafka_names("dlq"), configs={"max.message.bytes": "30000"})
    payload = b"\xff" + b"y" * 300_000  # not UTF-8: kept as base64, which grows it by a third
    dead_letter = DeadLetter("parse", "ArticleParseError", "payload is not valid UTF-8", payload,
                             {"topic": "in", "partition": 3, "offset": 99})
    with beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"])) as root:
        _ = root | beam.Create([dead_letter]) | WriteDeadLettersToKafka(KafkaSinkConfig(kafka.connection, dlq))
    (dead,) = kafka.read_all(dlq)
    letter = orjson.loads(dead.value)
    assert len(dead.value) < 30_000
    assert letter["payload_encoding"] == "base64" and letter["payload_truncated"] is True
    assert letter["payload_bytes"] == len(payload)
    assert letter["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert letter["source"] == {"topic": "in", "partition": 3, "offset": 99}
