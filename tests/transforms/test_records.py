import base64
import hashlib

import jsonschema

from transforms.records import DeadLetter, DeadLetterReason, load_schema


def test_dead_letter_keeps_utf8_payload_and_its_hash():
    letter = DeadLetter("parse", "ArticleParseError", "invalid JSON", b'{"text": ', {"file": "a.jsonl", "line": 3},
                        DeadLetterReason.INVALID_JSON)
    out = letter.to_dict()
    jsonschema.validate(out, load_schema("dead-letter.v1.json"))
    assert out["payload"] == '{"text": ' and out["payload_encoding"] == "utf-8"
    assert out["payload_sha256"] == hashlib.sha256(b'{"text": ').hexdigest()
    assert out["error"] == {"stage": "parse", "type": "ArticleParseError", "message": "invalid JSON"}


def test_dead_letter_base64_for_binary_and_truncation_keeps_size():
    payload = b"\xff\x00" * 1000
    out = DeadLetter("parse", "E", "m", payload, {}, DeadLetterReason.EMPTY).to_dict(max_payload_bytes=100)
    jsonschema.validate(out, load_schema("dead-letter.v1.json"))
    assert out["payload_encoding"] == "base64" and base64.b64decode(out["payload"]) == payload[:100]
    assert out["payload_bytes"] == 2000 and out["payload_truncated"]


def test_truncation_inside_a_character_stays_utf8():
    payload = "é".encode() * 100
    out = DeadLetter("parse", "E", "m", payload, {}, DeadLetterReason.EMPTY).to_dict(max_payload_bytes=51)
    assert out["payload_encoding"] == "utf-8" and out["payload"] == "é" * 25
