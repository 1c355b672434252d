"""Hostile files and careless operators (issue 20), through the real CLI in subprocesses.

Each test checks the exit status, how many lines reached stderr, and that the inputs are as they were.
Runs as root in CI, so "unreadable" is made with what root cannot read either: FIFOs, devices,
dangling links and link loops.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from transforms.records import load_schema

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "wikinews" / "apple" / "37961.json"
FAST = ["--nlp-processes", "1"]


def cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NEWS_INGEST_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def snapshot(folder: Path) -> dict:
    """Every entry below ``folder`` (links not followed) with its kind and, for files, a hash of its bytes."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            seen[str(path)] = ("link", os.readlink(path))
        elif path.is_file():
            seen[str(path)] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            seen[str(path)] = ("other", path.stat().st_mode)
    return seen


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def one_error_line(result: subprocess.CompletedProcess, status: int, *words: str) -> None:
    err = lines(result.stderr)
    assert result.returncode == status, result.stderr[-2000:]
    assert len(err) == 1 and err[0].startswith("news-ingest: error: "), result.stderr[-2000:]
    for word in words:
        assert word in err[0]


@pytest.fixture
def article(tmp_path) -> Path:
    path = tmp_path / "in" / "article.json"
    path.parent.mkdir()
    path.write_bytes(SEED.read_bytes())
    return path


# ------------------------------------------------------------------ 1. never destroy input or output


def test_output_that_is_the_input_is_refused(article):
    before = snapshot(article.parent)
    one_error_line(cli("replay", article, "--out", article), 2, "is the input")
    one_error_line(cli("replay", article, "--out", article.parent / ".." / "in" / "article.json"), 2, "is the input")
    assert snapshot(article.parent) == before


def test_output_inside_an_input_folder_is_refused(article, tmp_path):
    before = snapshot(tmp_path)
    one_error_line(cli("replay", article.parent, "--out", article.parent / "sub" / ".." / "out.jsonl"), 2,
                   "inside the input folder")
    one_error_line(cli("replay", article.parent, "--out", tmp_path / "out.jsonl", "--dlq", article.parent / "d.jsonl"),
                   2, "--dlq")
    assert snapshot(tmp_path) == before


def test_output_hard_linked_or_symlinked_to_the_input_is_refused(article, tmp_path):
    os.link(article, tmp_path / "hard.jsonl")
    (tmp_path / "soft.jsonl").symlink_to(article)
    before = snapshot(tmp_path)
    one_error_line(cli("replay", article, "--out", tmp_path / "hard.jsonl"), 2, "is the input")
    one_error_line(cli("replay", article, "--out", tmp_path / "soft.jsonl"), 2, "is the input")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("how", ["same path", "spelt differently", "symlink", "hard link"])
def test_out_and_dlq_that_are_one_file_are_refused(article, tmp_path, how):
    out = tmp_path / "o.jsonl"
    out.write_text("kept\n")
    dlq = {"same path": out, "spelt differently": tmp_path / "x" / ".." / "o.jsonl",
           "symlink": tmp_path / "link.jsonl", "hard link": tmp_path / "hard.jsonl"}[how]
    if how == "symlink":
        dlq.symlink_to(out)
    elif how == "hard link":
        os.link(out, dlq)
    before = snapshot(tmp_path)
    one_error_line(cli("replay", article, "--out", out, "--dlq", dlq), 2, "same file")
    assert snapshot(tmp_path) == before


def test_device_and_fifo_outputs_are_refused_without_blocking(article, tmp_path):
    os.mkfifo(tmp_path / "fifo.jsonl")
    one_error_line(cli("replay", article, "--out", "/dev/null", timeout=60), 2, "character device")
    one_error_line(cli("replay", article, "--out", tmp_path / "fifo.jsonl", timeout=60), 2, "FIFO")


def test_a_symlinked_output_is_written_through_and_the_link_stays(article, tmp_path):
    target = tmp_path / "target.jsonl"
    target.write_text("old\n")
    (tmp_path / "link.jsonl").symlink_to(target)
    result = cli("replay", article, "--out", tmp_path / "link.jsonl", *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "link.jsonl").is_symlink()
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(records) == 1 and records[0]["title"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "link.dlq.jsonl", "link.jsonl", "target.jsonl"]


def test_a_failed_run_leaves_existing_outputs_whole_and_no_partial_files(article, tmp_path):
    out, dlq = tmp_path / "o.jsonl", tmp_path / "o.dlq.jsonl"
    out.write_text("previous records\n")
    dlq.write_text("previous dead letters\n")
    broken_model = tmp_path / "model"  # looks like a model folder to the CLI; loading it fails in the run
    broken_model.mkdir()
    (broken_model / "config.cfg").write_text("not a config\n")
    before = snapshot(tmp_path)
    result = cli("replay", article, "--out", out, "--spacy-model", broken_model, *FAST)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "unchanged" in lines(result.stderr)[-1] and "Traceback" not in result.stderr
    assert len(lines(result.stderr)) <= 3  # Beam's error line, the run-failed event, the CLI's line
    assert snapshot(tmp_path) == before  # nothing half-written, no staging file or Beam temp folder left


# ------------------------------------------------------------------ 2. never hang or balloon on a file


def test_special_files_and_broken_links_in_a_folder_are_dead_letters_and_the_replay_goes_on(article, tmp_path):
    folder = article.parent
    (folder / "zero.json").symlink_to("/dev/zero")
    (folder / "dangling.txt").symlink_to(folder / "nowhere")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    os.mkfifo(folder / "fifo.jsonl")
    before = snapshot(tmp_path)
    result = cli("replay", folder, "--out", tmp_path / "o.jsonl", *FAST, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(lines(result.stderr)) <= 6  # a warning per skipped file and the summary
    assert lines(result.stderr)[-1].startswith("news-ingest: 1 records")
    letters = [json.loads(line) for line in (tmp_path / "o.dlq.jsonl").read_text().splitlines()]
    reasons = {letter["source"]["file"]: letter["error"]["message"] for letter in letters}
    assert {letter["error"]["stage"] for letter in letters} == {"read"}
    assert "character device" in reasons["in/zero.json"] and "FIFO" in reasons["in/fifo.jsonl"]
    assert "dangling" in reasons["in/dangling.txt"] and "loop" in reasons["in/loop.txt"]
    validator = jsonschema.Draft202012Validator(load_schema("dead-letter.v1.json"))
    for letter in letters:
        validator.validate(letter)
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k.startswith(str(folder))} == before


def test_oversized_files_and_lines_are_dead_letters_read_only_to_the_limit(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "big.txt").write_bytes(b"word " * 600_000)  # 3 MB, over the 2 MB payload limit
    good = json.dumps({"id": "g1", "title": "Good", "text": json.loads(SEED.read_text())["text"]})
    (folder / "lines.jsonl").write_bytes(b"x" * 2_500_000 + b"\n" + good.encode() + b"\n")
    result = cli("replay", folder, "--out", tmp_path / "o.jsonl", *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["g1"]
    letters = [json.loads(line) for line in (tmp_path / "o.dlq.jsonl").read_text().splitlines()]
    assert len(letters) == 2 and all("over the payload limit" in x["error"]["message"] for x in letters)
    assert all(x["payload_bytes"] == 2_000_001 for x in letters)  # read one byte past the limit, no more


def test_a_folder_is_listed_inside_the_source_not_into_the_graph(tmp_path):
    import apache_beam as beam

    from transforms.files import ReadArticleFiles

    def graph_bytes(count: int) -> int:
        folder = tmp_path / f"f{count}"
        folder.mkdir()
        for number in range(count):
            (folder / f"{number:06d}.json").write_text("{}")
        root = beam.Pipeline()
        _ = root | ReadArticleFiles([str(folder)], ingest_time=0.0)
        return len(root.to_runner_api().SerializeToString())

    assert graph_bytes(3000) - graph_bytes(3) < 100


# ------------------------------------------------------------------ 3. operator mistakes


@pytest.mark.parametrize("args, words", [
    (["--ou", "x.jsonl"], ["--out"]),  # no prefix matching: --ou is not --out
    (["--out", "x.jsonl", "--nlp-processes", "100000"], ["--nlp-processes", "core"]),
    (["--out", "x.jsonl", "--batch-size", "9" * 30], ["--batch-size"]),
    (["--out", "x.jsonl", "--dedup-horizon-seconds", "inf"], ["--dedup-horizon-seconds"]),
    (["--out", "x.jsonl", "--runner", "NoSuchRunner"], ["unknown runner"]),
    (["--out", "x.jsonl", "--spacy-model", "/no/such/model"], ["not installed"]),
    (["--out", "x.jsonl", "--spacy-model", "/tmp"], ["not installed"]),  # a folder that is no model
    (["--out", "/no/such/folder/x.jsonl"], ["does not exist"]),
])
def test_bad_replay_options_end_in_one_line_with_status_2(article, tmp_path, args, words):
    before = snapshot(tmp_path)
    one_error_line(cli("replay", article, *args), 2, *words)
    assert snapshot(tmp_path) == before


def test_run_option_names_are_not_matched_by_prefix(tmp_path):
    # --out would have become --output-topic; nothing reaches a broker (there is none at port 1)
    result = cli("run", "--input-topic", "a", "--output-topic", "b", "--dlq-topic", "c", "--group-id", "g",
                 "--bootstrap-server", "localhost:1", "--out", tmp_path / "abbr.jsonl", *FAST)
    one_error_line(result, 2, "unrecognized arguments: --out")
    assert not (tmp_path / "abbr.jsonl").exists()


@pytest.mark.slow
def test_an_unreachable_broker_is_one_line_and_status_69(article):
    result = cli("produce", article, "--topic", "t", "--bootstrap-server", "localhost:1", timeout=180)
    one_error_line(result, 69, "cannot reach Kafka at localhost:1")


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.parametrize("security, words", [
    (["--security-protocol", "SASL_PLAINTEXT", "--sasl-mechanism", "PLAIN", "--sasl-plain-username", "u",
      "--sasl-plain-password", "p"], ["refused the credentials"]),
    (["--security-protocol", "SSL"], ["TLS"]),
])
def test_refused_credentials_or_tls_are_one_line_and_status_77(article, kafka_bootstrap, security, words):
    # the test broker speaks PLAINTEXT only: SASL and TLS handshakes against it fail
    result = cli("produce", article, "--topic", "t", "--bootstrap-server", kafka_bootstrap, *security, timeout=180)
    one_error_line(result, 77, *words)


@pytest.mark.kafka
def test_produce_skips_special_files_and_goes_on(article, tmp_path, kafka, kafka_names):
    folder = article.parent
    (folder / "zero.json").symlink_to("/dev/zero")
    (folder / "dangling.txt").symlink_to(folder / "nowhere")
    os.mkfifo(folder / "fifo.jsonl")
    topic = kafka.create_topic(kafka_names("operator"))
    before = snapshot(tmp_path)
    result = cli("produce", folder, "--topic", topic, "--bootstrap-server", kafka.bootstrap, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]  # some input could not be sent
    assert lines(result.stderr)[-1] == f"news-ingest: 1 messages to {topic}, 3 skipped"
    assert len(lines(result.stderr)) <= 7
    assert len(kafka.read_all(topic)) == 1
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ 4. distinct articles, distinct ids


def test_different_texts_under_one_id_get_distinct_derived_ids(tmp_path):
    texts = ["The mayor of Springfield opened a new bridge over the river on Monday, officials said. The bridge "
             "cost twelve million dollars and took three years to build.",
             "A storm knocked out power to forty thousand homes in the northern counties late on Tuesday night, "
             "the utility company reported on Wednesday morning."]
    rows = [{"id": "a1", "title": "One", "text": texts[0]}, {"id": "a1", "title": "Two", "text": texts[1]},
            {"id": "a1", "title": "One again", "text": texts[0]}]
    (tmp_path / "same.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = cli("replay", tmp_path / "same.jsonl", "--out", tmp_path / "o.jsonl", *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(lines(result.stderr)) == 2 and "a1~" in result.stderr  # one warning, the summary
    records = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in records]
    assert ids[0] == ids[2] == "a1" and ids[1].startswith("a1~") and len(ids[1]) == len("a1~") + 8
    assert "given_id" not in records[0] and records[1]["given_id"] == "a1" and "given_id" not in records[2]
    validator = jsonschema.Draft202012Validator(load_schema())
    for record in records:
        validator.validate(record)
    again = cli("replay", tmp_path / "same.jsonl", "--out", tmp_path / "o2.jsonl", *FAST)
    assert [json.loads(line)["id"] for line in (tmp_path / "o2.jsonl").read_text().splitlines()] == ids
