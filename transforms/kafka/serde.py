"""Bytes in and out of Kafka: consumer records to RawMessages, records and dead letters to key/value pairs."""

from __future__ import annotations

from typing import Any, Mapping

import orjson

from transforms.records import DEFAULT_MAX_DEAD_LETTER_PAYLOAD_BYTES, DeadLetter, RawMessage

__all__ = [
    "RECORD_OVERHEAD_BYTES",
    "message_from_record",
    "encode_record",
    "encode_dead_letter",
    "dead_letter_key",
    "record_size",
]

# Upper bound of what a record batch holding one record adds to its key and value
# (61-byte batch header, up to 21 bytes of record varints and attributes, rounded up).
RECORD_OVERHEAD_BYTES = 128


def message_from_record(record: Any, timestamp_ms: int | None = None) -> RawMessage:
    """A kafka-python ConsumerRecord as the pipeline's RawMessage.

    ``ingest_time`` is the Kafka record timestamp in seconds (CreateTime or LogAppendTime, as the
    topic says), or ``timestamp_ms`` when given (the reader's stand-in for a record without one); it
    drives element timestamps and the watermark. ``ordinal`` is the offset.
    """
    value = record.value
    # Positional: the reader builds one per record, and keywords cost a fifth of the construction.
    return RawMessage(b"" if value is None else value if type(value) is bytes else bytes(value),
                      {"topic": record.topic, "partition": record.partition, "offset": record.offset},
                      (record.timestamp if timestamp_ms is None else timestamp_ms) / 1000.0, "auto", record.offset)


def encode_record(record: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """An enriched record as (key, value): the article id, the JSON document."""
    return str(record["id"]).encode("utf-8"), orjson.dumps(record)


def record_size(key: bytes | None, value: bytes | None) -> int:
    """A safe upper bound of the bytes one record takes in a batch on the broker."""
    return RECORD_OVERHEAD_BYTES + len(key or b"") + len(value or b"")


def dead_letter_key(dead_letter: DeadLetter) -> bytes:
    """``topic/partition/offset`` of the message it came from, else the payload's hash."""
    source = dict(dead_letter.source)
    if {"topic", "partition", "offset"} <= source.keys():
        return f"{source['topic']}/{source['partition']}/{source['offset']}".encode("utf-8")
    if "file" in source:
        return f"{source['file']}:{source.get('line', 0)}".encode("utf-8")
    import hashlib

    return hashlib.sha256(dead_letter.payload).hexdigest().encode("ascii")


def encode_dead_letter(dead_letter: DeadLetter, max_bytes: int,
                       max_payload_bytes: int = DEFAULT_MAX_DEAD_LETTER_PAYLOAD_BYTES) -> tuple[bytes, bytes]:
    """(key, value) of a dead letter whose record fits in ``max_bytes``.

    The payload is kept up to ``max_payload_bytes`` (size and SHA-256 always kept); when the JSON is
    still too large for the topic (escaping can grow a payload up to six times), the kept part is
    halved until it fits, so a dead letter can always be written.
    """
    key = dead_letter_key(dead_letter)
    keep = max_payload_bytes
    while True:
        value = orjson.dumps(dead_letter.to_dict(max_payload_bytes=keep))
        if record_size(key, value) <= max_bytes or keep == 0:
            return key, value
        keep //= 2
