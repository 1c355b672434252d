"""End to end: news-ingest replay over seeds/ through the real graph on the local runner."""

from pathlib import Path

import jsonschema
import orjson
import pytest

from pipeline.cli import main
from transforms.records import load_schema

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"


def read_jsonl(path):
    return [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]


def replay(tmp_path, *paths, name="out", extra=()):
    out = tmp_path / f"{name}.jsonl"
    dlq = tmp_path / f"{name}.dlq.jsonl"
    code = main(["replay", *map(str, paths), "--out", str(out), "--dlq", str(dlq), *extra])
    assert code == 0
    return read_jsonl(out), read_jsonl(dlq)


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    return replay(tmp_path_factory.mktemp("seeds"), SEEDS)


def test_every_seed_becomes_one_valid_record(seed_run):
    records, dead = seed_run
    seed_files = [p for p in SEEDS.rglob("*") if p.suffix in (".txt", ".json")]
    seed_lines = sum(1 for p in SEEDS.rglob("*.jsonl") for line in p.read_text().splitlines() if line.strip())
    assert len(records) == len(seed_files) + seed_lines >= 61
    assert dead == []
    validator = jsonschema.Draft202012Validator(load_schema())
    for record in records:
        validator.validate(record)
    assert len({r["id"] for r in records}) == len(records)


def test_offsets_point_into_the_text(seed_run):
    records, _ = seed_run
    for record in records:
        for item in record["entities"] + record["timexes"]:
            assert record["text"][item["start"]:item["end"]] == item["text"]
        for event in record["events"]:
            for role in ("trigger", "actor", "target", "location"):
                span = event[role]
                if span is not None:
                    assert record["text"][span["start"]:span["end"]] == span["text"]


def test_seed_page_record(seed_run):
    records, _ = seed_run
    (seed,) = [r for r in records if r["source"]["file"] == "seeds/000_8e0deb087ab3057e.txt"]
    assert seed["published_at"] == "2020-08-17T01:29:00Z"
    assert seed["attribution"] == ["AP"]
    people = {e["text"] for e in seed["entities"] if e["label"] == "PERSON"}
    assert {"Alexander Lukashenko", "Vladimir Putin", "Oana Lungescu"} <= people
    assert not any(e["text"] == "IST" for e in seed["entities"])


def test_exact_copy_is_flagged_and_skips_nlp(seed_run):
    records, _ = seed_run
    by_id = {r["id"]: r for r in records}
    copy = by_id["syndicated-exact-1"]
    assert copy["dedup"]["status"] == "exact_duplicate"
    assert copy["dedup"]["duplicate_of"] == "wikinews-100911"
    assert copy["dedup"]["cluster_id"] == by_id["wikinews-100911"]["dedup"]["cluster_id"]
    assert copy["entities"] == copy["timexes"] == copy["events"] == []
    assert by_id["wikinews-100911"]["dedup"]["status"] == "original"
    assert by_id["wikinews-100911"]["entities"]


def test_two_replays_are_identical_apart_from_ingested_at(seed_run, tmp_path):
    first, _ = seed_run
    second, _ = replay(tmp_path, SEEDS, name="again")

    def comparable(records):
        return sorted((orjson.dumps({k: v for k, v in r.items() if k != "ingested_at"}, option=orjson.OPT_SORT_KEYS)
                       for r in records))

    assert comparable(first) == comparable(second)


def test_malformed_articles_go_to_the_dead_letter_file_and_the_run_goes_on(tmp_path):
    bad = tmp_path / "mixed.jsonl"
    bad.write_bytes(b'{"id": "good-1", "text": "Apple unveiled a phone on Monday."}\n'
                    b'{"id": "bad-1", "text": \n'
                    b'[1, 2, 3]\n'
                    b'\xff\xfe garbage\n'
                    b'{"id": "good-2", "text": "Boeing delivered a plane."}\n')
    records, dead = replay(tmp_path, bad)
    assert sorted(r["id"] for r in records) == ["good-1", "good-2"]
    assert sorted(d["source"]["line"] for d in dead) == [2, 3, 4]
    validator = jsonschema.Draft202012Validator(load_schema("dead-letter.v1.json"))
    for letter in dead:
        validator.validate(letter)
        assert letter["error"]["stage"] == "parse" and letter["error"]["message"]


@pytest.mark.parametrize("argv, message", [
    (["replay", "does-not-exist", "--out", "o.jsonl"], "no such file or folder"),
    (["replay", "seeds", "--out", "/nonexistent-folder/o.jsonl"], "does not exist"),
    (["replay", "seeds"], "--out"),
    (["replay", "seeds", "--out", "o.jsonl", "--no-such-flag"], "unrecognized arguments"),
    (["replay", "seeds", "--out", "o.jsonl", "--batch-size", "0"], "batch-size"),
    (["replay", "seeds", "--out", "o.jsonl", "--nlp-processes", "many"], "nlp-processes"),
    (["replay", "seeds", "--out", "o.jsonl", "--nlp-processes", "0"], "nlp-processes"),
    (["replay", "seeds", "--out", "o.jsonl", "--spacy-model", "no_such_model"], "not installed"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_get_one_line_and_a_nonzero_exit(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_a_pool_of_nlp_processes_writes_the_same_records(seed_run, tmp_path):
    import subprocess
    import sys

    # A fresh process, as a user runs it: the CLI has the pool's forkserver load the model first.
    out, dlq = tmp_path / "pooled.jsonl", tmp_path / "pooled.dlq.jsonl"
    subprocess.run([sys.executable, "-m", "pipeline.cli", "replay", str(SEEDS), "--out", str(out), "--dlq", str(dlq),
                    "--nlp-processes", "2", "--batch-size", "8"], cwd=ROOT, check=True, timeout=600)
    first, _ = seed_run
    assert read_jsonl(dlq) == []

    def comparable(records):
        return sorted((orjson.dumps({k: v for k, v in r.items() if k != "ingested_at"}, option=orjson.OPT_SORT_KEYS)
                       for r in records))

    assert comparable(first) == comparable(read_jsonl(out))


@pytest.mark.parametrize("argv, processes, batch_size", [
    (["replay"], "auto", None),
    (["replay", "--nlp-processes", "1"], 1, 64),
    (["replay", "--nlp-processes", "3"], 3, 16),
    (["replay", "--nlp-processes", "auto", "--batch-size", "5"], "auto", 5),
    (["run", "--nlp-processes", "2"], 2, 8),
    (["run", "--nlp-processes", "1"], 1, 64),
])
def test_nlp_processes_default_to_the_usable_cores_and_the_batch_size_follows(argv, processes, batch_size, monkeypatch):
    from pipeline.cli import build_parser, resolve_nlp_arguments
    from transforms.nlp import annotate
    from transforms.nlp.annotate import auto_nlp_processes

    monkeypatch.setattr(annotate, "usable_cores", lambda: 4)  # more processes than cores are refused

    rest = (["seeds", "--out", "o.jsonl"] if argv[0] == "replay" else
            ["--bootstrap-servers", "b:9092", "--input-topic", "i", "--output-topic", "o", "--dlq-topic", "d",
             "--group-id", "g"])
    args, _ = build_parser().parse_known_args([argv[0], *rest, *argv[1:]])
    resolve_nlp_arguments(args)
    expected = auto_nlp_processes() if processes == "auto" else processes
    assert args.nlp_processes == expected
    assert args.batch_size == (batch_size or (64 if expected == 1 else 16))


def test_usable_cores_heed_a_container_cpu_quota(tmp_path, monkeypatch):
    import os

    from transforms.nlp import annotate

    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(annotate, "_CGROUP_CPU_MAX", str(quota))
    quota.write_text("max 100000\n")
    assert annotate.usable_cores() == len(os.sched_getaffinity(0))
    quota.write_text("150000 100000\n")  # --cpus 1.5: one whole core
    assert annotate.usable_cores() == 1
    monkeypatch.setattr(annotate, "_MAX_AUTO_PROCESSES", 1)
    quota.write_text("max 100000\n")
    assert annotate.auto_nlp_processes() == 1
