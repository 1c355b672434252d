"""Kafka settings and bytes in/out: pure functions, no broker."""

import hashlib
from collections import namedtuple

import orjson
import pytest

from transforms.kafka.config import KafkaConnection, KafkaSinkConfig, KafkaSourceConfig, security_from_env
from transforms.kafka.serde import encode_dead_letter, encode_record, message_from_record, record_size
from transforms.records import DeadLetter

Record = namedtuple("Record", "topic partition offset timestamp key value")


def test_a_consumer_record_becomes_a_raw_message_stamped_with_the_kafka_timestamp():
    message = message_from_record(Record("news", 2, 41, 1_700_000_000_123, b"k", b"payload"))
    assert message.payload == b"payload"
    assert message.source == {"topic": "news", "partition": 2, "offset": 41}
    assert message.ingest_time == pytest.approx(1_700_000_000.123)
    assert message.content_kind == "auto"
    assert message.ordinal == 41


def test_a_tombstone_becomes_an_empty_payload():
    assert message_from_record(Record("news", 0, 0, 0, None, None)).payload == b""


def test_a_record_is_keyed_by_its_id():
    key, value = encode_record({"id": "url-abc", "text": "x"})
    assert key == b"url-abc"
    assert orjson.loads(value) == {"id": "url-abc", "text": "x"}


def test_a_dead_letter_is_cut_until_it_fits_the_topic():
    payload = b'"\x01' * 50_000  # JSON escaping grows this payload about six times
    dead = DeadLetter("parse", "ArticleParseError", "bad", payload, {"topic": "in", "partition": 1, "offset": 7})
    key, value = encode_dead_letter(dead, max_bytes=20_000)
    assert key == b"in/1/7"
    assert record_size(key, value) <= 20_000
    letter = orjson.loads(value)
    assert letter["payload_truncated"] is True
    assert letter["payload_bytes"] == len(payload)
    assert letter["payload_sha256"] == hashlib.sha256(payload).hexdigest()


def test_security_settings_come_from_the_environment_and_are_checked():
    found = security_from_env({"NEWS_INGEST_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                               "NEWS_INGEST_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                               "NEWS_INGEST_KAFKA_SASL_PLAIN_PASSWORD": "s3cret",
                               "NEWS_INGEST_KAFKA_SSL_CHECK_HOSTNAME": "false",
                               "UNRELATED": "x"})
    assert found == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                     "sasl_plain_password": "s3cret", "ssl_check_hostname": False}
    connection = KafkaConnection("a:9092,b:9093", security=found)
    assert connection.bootstrap_servers == ("a:9092", "b:9093")
    assert connection.client_kwargs()["sasl_plain_password"] == "s3cret"
    assert "s3cret" not in repr(connection)
    with pytest.raises(ValueError, match="security_protocol"):
        KafkaConnection(("a:9092",), security={"security_protocol": "TLS"})
    with pytest.raises(ValueError, match="ssl_cafile"):
        KafkaConnection(("a:9092",), security={"ssl_cafile": "/no/such/ca.pem"})
    with pytest.raises(ValueError, match="HOST:PORT"):
        KafkaConnection(("localhost",))


def test_source_and_sink_settings_are_validated():
    connection = KafkaConnection(("localhost:9092",))
    with pytest.raises(ValueError, match="start_from"):
        KafkaSourceConfig(connection, ("in",), "group", start_from="middle")
    with pytest.raises(ValueError, match="group"):
        KafkaSourceConfig(connection, ("in",), "")
    with pytest.raises(ValueError, match="max_record_bytes"):
        KafkaSinkConfig(connection, "out", max_record_bytes=10)
