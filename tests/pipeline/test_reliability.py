"""Reliability on the file-replay path (issue 8): every input line ends as exactly one record or one dead letter.

The hostile catalogue (tests/test_hostile_input.py) is interleaved with good articles on one topic and
replayed through ``news-ingest replay`` on the local runner.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jsonschema
import orjson
import pytest

from pipeline.cli import main
from tests.test_hostile_input import HOSTILE, good_article
from transforms.records import load_schema


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def replay(tmp_path: Path, lines: list[bytes], *extra: str) -> tuple[list[dict], list[dict]]:
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out, dlq = tmp_path / "out.jsonl", tmp_path / "out.dlq.jsonl"
    assert main(["replay", str(source), "--out", str(out), "--dlq", str(dlq), *extra]) == 0
    return read_jsonl(out), read_jsonl(dlq)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """Good, hostile, good, hostile, ...: line 2k+1 is good article k, line 2k+2 is hostile case k."""
    lines, expected = [], {}
    for number, (name, payload, outcome) in enumerate(HOSTILE):
        lines.append(good_article(number))
        expected[len(lines)] = ("good", "record")
        lines.append(payload)
        expected[len(lines)] = (name, outcome)
    lines.append(good_article(len(HOSTILE)))
    expected[len(lines)] = ("good", "record")
    records, dead = replay(tmp_path_factory.mktemp("hostile"), lines)
    return lines, expected, records, dead


def test_every_line_is_exactly_one_record_or_one_dead_letter(hostile_run):
    lines, _, records, dead = hostile_run
    seen = Counter(item["source"]["line"] for item in records + dead)
    assert sorted(seen) == list(range(1, len(lines) + 1))
    assert set(seen.values()) == {1}


def test_every_good_article_comes_through_enriched(hostile_run):
    _, expected, records, _ = hostile_run
    by_line = {r["source"]["line"]: r for r in records}
    good = [line for line, (name, _) in expected.items() if name == "good"]
    assert len(good) == len(HOSTILE) + 1
    for line in good:
        record = by_line[line]
        assert record["id"].startswith("good-") and record["dedup"]["status"] == "original"
        assert {"Airbus", "Guillaume Faury"} <= {e["text"] for e in record["entities"]}
        assert record["events"] and record["published_at"] == "2024-03-12T08:30:00Z"


def test_hostile_lines_end_as_expected_with_reasons(hostile_run):
    _, expected, records, dead = hostile_run
    record_lines = {r["source"]["line"] for r in records}
    letters = {d["source"]["line"]: d for d in dead}
    for line, (name, outcome) in expected.items():
        if outcome == "dead":
            assert line in letters, f"{name}: expected a dead letter"
            assert letters[line]["error"]["message"], name
        elif outcome == "record":
            assert line in record_lines, f"{name}: expected a record ({letters.get(line, {}).get('error')})"


def test_records_and_dead_letters_follow_their_schemas(hostile_run):
    _, _, records, dead = hostile_run
    record_schema = jsonschema.Draft202012Validator(load_schema())
    letter_schema = jsonschema.Draft202012Validator(load_schema("dead-letter.v1.json"))
    for record in records:
        record_schema.validate(record)
        for item in record["entities"] + record["timexes"]:
            assert record["text"][item["start"]:item["end"]] == item["text"]
    for letter in dead:
        letter_schema.validate(letter)
        assert letter["payload_bytes"] <= 2_600_000 and len(orjson.dumps(letter)) < 200_000


def test_an_article_over_the_token_limit_is_a_dead_letter_in_replay(tmp_path):
    lines = [good_article(1), orjson.dumps({"id": "tokens", "text": "1 " * 60_000}), good_article(2)]
    records, dead = replay(tmp_path, lines)
    assert sorted(r["id"] for r in records) == ["good-1", "good-2"]
    (letter,) = dead
    assert letter["error"]["stage"] == "nlp" and "tokens is over the limit" in letter["error"]["message"]
