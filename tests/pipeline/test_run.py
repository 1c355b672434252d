"""news-ingest produce and run against the real local broker (deploy/kafka/local-kafka.sh)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"

pytestmark = pytest.mark.kafka


def seed_article_count() -> int:
    files = [p for p in SEEDS.rglob("*") if p.suffix in (".txt", ".json")]
    lines = sum(1 for p in SEEDS.rglob("*.jsonl") for line in p.read_text().splitlines() if line.strip())
    return len(files) + lines


def run(kafka, names: dict, *extra) -> int:
    return main(["run", "--bootstrap-servers", kafka.bootstrap, "--input-topic", names["in"],
                 "--output-topic", names["out"], "--dlq-topic", names["dlq"], "--group-id", names["group"],
                 "--until-caught-up", *extra])


def article(n: int, text: str | None = None) -> bytes:
    return orjson.dumps({"id": f"new-{n}", "title": f"Article {n}",
                         "text": text or f"Airbus delivered {n} aircraft to the airline in Toulouse on Monday.",
                         "published_at": "2024-03-04T10:00:00Z"})


def topic_names(prefix: str) -> dict:
    suffix = uuid.uuid4().hex[:8]
    return {role: f"test-{prefix}-{role}-{suffix}" for role in ("in", "out", "dlq", "group")}


@pytest.fixture(scope="module")
def seeds_scenario(kafka_bootstrap):
    """Seeds produced to a 3-partition topic, then three runs of the same group."""
    from tests.conftest import KafkaTestClient

    kafka = KafkaTestClient(kafka_bootstrap)
    names = topic_names("seeds")
    kafka.create_topic(names["in"], partitions=3)
    assert main(["produce", str(SEEDS), "--bootstrap-servers", kafka.bootstrap, "--topic", names["in"]]) == 0
    assert run(kafka, names, "--create-topics") == 0
    first = kafka.read_all(names["out"])
    assert run(kafka, names) == 0
    second = kafka.read_all(names["out"])
    kafka.produce(names["in"], [article(n) for n in (1, 2, 3)])
    assert run(kafka, names) == 0
    third = kafka.read_all(names["out"])
    return kafka, names, first, second, third


def test_produce_sends_one_message_per_article_over_all_partitions(seeds_scenario):
    kafka, names, *_ = seeds_scenario
    ends = kafka.end_offsets(names["in"])
    assert len(ends) == 3
    assert sum(ends.values()) == seed_article_count() + 3
    assert all(offset > 0 for offset in ends.values())  # keyed by id: every partition got articles


def test_first_run_writes_every_article_exactly_once_by_id(seeds_scenario):
    kafka, names, first, *_ = seeds_scenario
    ids = [record.key.decode() for record in first]
    assert len(ids) == len(set(ids)) == seed_article_count()
    values = [orjson.loads(record.value) for record in first]
    assert all(value["id"] == record.key.decode() for value, record in zip(values, first))
    assert {value["source"]["topic"] for value in values} == {names["in"]}
    assert {value["source"]["partition"] for value in values} == {0, 1, 2}
    assert all(set(value["source"]) == {"topic", "partition", "offset"} for value in values)
    import jsonschema

    from transforms.records import load_schema

    validator = jsonschema.Draft202012Validator(load_schema())
    for value in values:
        validator.validate(value)
    assert kafka.read_all(names["dlq"]) == []


def test_second_run_writes_nothing(seeds_scenario):
    _, _, first, second, _ = seeds_scenario
    assert len(second) == len(first)


def test_three_new_articles_give_exactly_three_new_records(seeds_scenario):
    _, _, _, second, third = seeds_scenario
    new = [r for r in third if r.key.decode().startswith("new-")]
    assert sorted(r.key.decode() for r in new) == ["new-1", "new-2", "new-3"]
    assert len(third) == len(second) + 3


def test_committed_offsets_equal_end_offsets(seeds_scenario):
    kafka, names, *_ = seeds_scenario
    assert kafka.committed(names["group"], names["in"]) == kafka.end_offsets(names["in"])


def test_malformed_messages_become_dead_letters_with_the_documented_shape(kafka):
    names = topic_names("malformed")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    bad = [b"\xff\xfe not utf-8", b'{"title": "no text field"}', b"   "]
    kafka.produce(names["in"], [article(1), *bad])
    assert run(kafka, names) == 0
    assert [r.key.decode() for r in kafka.read_all(names["out"])] == ["new-1"]
    dead = sorted(kafka.read_all(names["dlq"]), key=lambda r: orjson.loads(r.value)["source"]["offset"])
    assert [r.key.decode() for r in dead] == [f"{names['in']}/0/{offset}" for offset in (1, 2, 3)]
    letters = [orjson.loads(r.value) for r in dead]
    for offset, (payload, letter) in enumerate(zip(bad, letters), start=1):
        assert set(letter) == {"error", "source", "payload", "payload_encoding", "payload_bytes",
                               "payload_truncated", "payload_sha256"}
        assert set(letter["error"]) == {"stage", "type", "message"}
        assert letter["error"]["stage"] == "parse"
        assert letter["source"] == {"topic": names["in"], "partition": 0, "offset": offset}
        assert letter["payload_bytes"] == len(payload)
        assert letter["payload_sha256"] == hashlib.sha256(payload).hexdigest()
        assert letter["payload_truncated"] is False
    assert letters[0]["payload_encoding"] == "base64"
    assert letters[1]["payload_encoding"] == "utf-8"
    assert letters[1]["payload"] == '{"title": "no text field"}'
    assert kafka.committed(names["group"], names["in"]) == {(names["in"], 0): 4}


def test_record_too_large_for_the_output_topic_becomes_a_dead_letter(kafka):
    names = topic_names("large")
    kafka.create_topic(names["in"])
    kafka.create_topic(names["out"], configs={"max.message.bytes": "20000"})
    kafka.create_topic(names["dlq"])
    long_text = " ".join(["The airline said the new aircraft would enter service in May."] * 400)  # ~25 kB
    kafka.produce(names["in"], [article(1), article(2, long_text), article(3)])
    assert run(kafka, names) == 0
    assert sorted(r.key.decode() for r in kafka.read_all(names["out"])) == ["new-1", "new-3"]
    (dead,) = kafka.read_all(names["dlq"])
    letter = orjson.loads(dead.value)
    assert letter["error"]["stage"] == "sink"
    assert letter["error"]["type"] == "RecordTooLarge"
    assert letter["source"] == {"topic": names["in"], "partition": 0, "offset": 1}
    assert letter["payload_bytes"] > 20000
    assert letter["payload"].startswith('{"schema":') and '"id":"new-2"' in letter["payload"][:200]
    assert kafka.committed(names["group"], names["in"]) == {(names["in"], 0): 3}


def test_start_from_latest_skips_what_is_already_there(kafka):
    names = topic_names("latest")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    kafka.produce(names["in"], [article(1), article(2)])
    assert run(kafka, names, "--start-from", "latest") == 0
    assert kafka.read_all(names["out"]) == []
    assert kafka.committed(names["group"], names["in"]) == {(names["in"], 0): 2}


def test_the_job_freezes_what_it_started_with_only_in_its_own_process(kafka, monkeypatch):
    """Frozen objects are never collected: a job run inside another program (these tests) must
    leave that program's objects alone."""
    from pipeline import run as run_module
    from pipeline.cli import build_parser, resolve_nlp_arguments

    names = topic_names("freeze")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    kafka.produce(names["in"], [article(1)])
    freezes = []
    monkeypatch.setattr(run_module.gc, "freeze", lambda: freezes.append(len(kafka.read_all(names["out"]))))
    assert run(kafka, names) == 0
    assert freezes == []
    kafka.produce(names["in"], [article(2)])
    args, beam_args = build_parser().parse_known_args(
        ["run", "--bootstrap-servers", kafka.bootstrap, "--input-topic", names["in"], "--output-topic", names["out"],
         "--dlq-topic", names["dlq"], "--group-id", names["group"], "--until-caught-up"])
    resolve_nlp_arguments(args)
    assert run_module.run_command(args, beam_args, own_process=True) == 0
    assert freezes == [1]  # once, before the run wrote its record
    assert len(kafka.read_all(names["out"])) == 2


def test_a_copy_bundles_after_its_original_is_labelled_a_copy(kafka):
    """Ten records per bundle put the copy four bundles after its original. The first dedup, on
    Beam state with event-time timers, forgot every article a bundle after it (the FnApiRunner
    fired the timers at once) and wrote this copy as an original."""
    import random

    names = topic_names("dedup-bundles")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    original = next(SEEDS.glob("*.txt")).read_text(encoding="utf-8")  # the scraped seed article
    rng = random.Random(7)
    fillers = [" ".join(f"w{rng.randrange(10**9)}" for _ in range(60)) + "." for _ in range(30)]
    values = ([article(0, original)] + [article(n + 1, text) for n, text in enumerate(fillers)]
              + [orjson.dumps({"id": "copy", "title": "Copy", "text": original, "published_at": "2024-03-04T10:00:00Z"})])
    kafka.produce(names["in"], values)
    assert run(kafka, names, "--max-bundle-records", "10") == 0
    labels = {r["id"]: r["dedup"] for r in (orjson.loads(m.value) for m in kafka.read_all(names["out"]))}
    assert len(labels) == 32
    assert (labels["copy"]["status"], labels["copy"]["duplicate_of"]) == ("exact_duplicate", "new-0")
    assert sum(d["status"] == "original" for d in labels.values()) == 31


def test_sigterm_finishes_in_flight_work_commits_and_exits_zero(kafka, tmp_path):
    names = topic_names("sigterm")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    kafka.produce(names["in"], [article(n) for n in (1, 2, 3)])
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "run", "--bootstrap-servers", kafka.bootstrap,
             "--input-topic", names["in"], "--output-topic", names["out"], "--dlq-topic", names["dlq"],
             "--group-id", names["group"]],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while "news-ingest: reading" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.2)
        # A fused graph writes while it runs; an unfused one only when it stops (it says so).
        deadline = time.monotonic() + 60
        while len(kafka.read_all(names["out"])) < 3 and "not one fused stage" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "records did not appear"
            time.sleep(0.5)
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr_text = log.read_text()
    assert process.returncode == 0, stderr_text
    assert "Traceback" not in stderr_text
    assert "SIGTERM" in stderr_text  # the stop was logged
    # Everything below the committed offset was written (a fused run has written all three by now;
    # an unfused one may have been stopped before its reader emitted anything).
    committed = kafka.committed(names["group"], names["in"])[(names["in"], 0)] or 0
    written = {orjson.loads(r.value)["source"]["offset"] for r in kafka.read_all(names["out"])}
    assert set(range(committed)) <= written
    if "not one fused stage" not in stderr_text:
        assert committed == 3 and written == {0, 1, 2}
    # Resuming loses nothing: the next run writes what the stopped one did not commit.
    assert run(kafka, names) == 0
    assert {r.key.decode() for r in kafka.read_all(names["out"])} == {"new-1", "new-2", "new-3"}
    assert kafka.committed(names["group"], names["in"]) == {(names["in"], 0): 3}


@pytest.mark.parametrize("args, message", [
    (["run", "--input-topic", "a", "--output-topic", "b", "--dlq-topic", "c", "--group-id", "g",
      "--bootstrap-servers", "no-port"], "bootstrap server must be HOST:PORT"),
    (["run", "--input-topic", "a", "--output-topic", "b", "--dlq-topic", "c", "--group-id", "g",
      "--bootstrap-servers", "localhost:9092", "--start-from", "middle"], "invalid choice"),
    (["run", "--input-topic", "a", "--output-topic", "a", "--dlq-topic", "c", "--group-id", "g",
      "--bootstrap-servers", "localhost:9092"], "must not also be the output"),
    (["produce", "--topic", "t", "--bootstrap-servers", "localhost:9092", "/no/such/path"], "no such file"),
])
def test_bad_arguments_give_one_line_and_a_nonzero_exit(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_missing_topic_is_a_one_line_error(kafka, capsys):
    names = topic_names("missing")
    assert run(kafka, names) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing" in err and names["in"] in err


def test_the_run_graph_is_one_fused_stage_on_the_fn_api_runner():
    """A Flatten (or anything else that splits the stage) would make `run` commit only at the end of the
    run and write nothing until it stops: keep the source and both Kafka sinks in one fused stage."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.graph import PipelineConfig, build_graph
    from pipeline.run import sinks_fused_with_source
    from transforms.kafka.config import KafkaConnection, KafkaSinkConfig, KafkaSourceConfig
    from transforms.kafka.sink import WriteDeadLettersToKafka, WriteRecordsToKafka
    from transforms.kafka.source import ReadFromKafka
    from transforms.nlp.transform import default_model_name

    connection = KafkaConnection(("localhost:9092",))
    root = beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"]))
    build_graph(root, ReadFromKafka(KafkaSourceConfig(connection, ("in",), "group")),
                WriteRecordsToKafka(KafkaSinkConfig(connection, "out")),
                WriteDeadLettersToKafka(KafkaSinkConfig(connection, "dlq")),
                PipelineConfig(spacy_model=default_model_name()), fuse_sinks=True)
    assert sinks_fused_with_source(root)
