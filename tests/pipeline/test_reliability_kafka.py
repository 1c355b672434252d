"""Crashes and restarts against the real broker (issue 8): kill -9, a 30 s broker outage, a failing sink.

The kill -9 scenario is bench/kill_restart.py's, smaller. The outage test runs its own broker
(deploy/kafka/local-kafka.sh with a private folder and ports), so stopping it disturbs no other test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]
BROKER_SCRIPT = ROOT / "deploy" / "kafka" / "local-kafka.sh"

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


from bench import kill_restart as bench  # noqa: E402
from bench.proc import descendants  # noqa: E402


def test_kill_9_mid_stream_then_restart_loses_nothing(kafka_bootstrap, tmp_path):
    result = bench.kill_restart(kafka_bootstrap, count=150, kill_at=50, bundle_records=10, partitions=2,
                                kill_after=30, workdir=tmp_path, timeout=900)
    print({k: v for k, v in result.items() if k not in ("missing", "topics")})
    assert result["restart_exit_code"] == 0, Path(result["log"]).read_text()[-3000:]
    assert result["missing_count"] == 0, result["missing"]
    assert result["distinct_ids"] == 150 and result["dead_letters"] == 0
    assert result["committed_equals_end"]
    # Only records written after the last commit before the kill can be written again.
    assert result["duplicates"] <= result["written_before_kill"]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_kill_9_of_the_job_process_alone_takes_its_nlp_processes_with_it(kafka, tmp_path):
    """An operator's ``kill -9 PID`` or the OOM killer hits one process, not the group: the pool's
    processes and their forkserver must not outlive it, holding a model's memory each."""
    names = bench.topic_names("orphans")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    kafka.produce(names["in"], bench.articles(20, prefix="or"))
    log = tmp_path / "job.log"
    job = bench.start_job(kafka.bootstrap, names, log, "--nlp-processes", "2", "--batch-size", "2")
    helpers: set[int] = set()
    try:
        bench.wait_until(lambda: bench.count_records(kafka.bootstrap, names["out"]) >= 10, 300, "10 records", job, log)
        helpers = descendants(job.pid)
        assert len(helpers) >= 3, f"expected a forkserver and two pool processes, found {helpers}"
        job.kill()  # SIGKILL to the job's process only
        job.wait()
        deadline = time.monotonic() + 15
        while any(_running(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in helpers if _running(pid)], "processes outlived the job"
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        for pid in helpers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ a failing sink


class _FailingProducer:
    """A real KafkaProducer whose send of one key to one topic fails, as a broker write error would."""

    def __init__(self, fail_topic: str, fail_key: bytes, **kwargs):
        from kafka import KafkaProducer

        self._inner = KafkaProducer(**kwargs)
        self._fail = (fail_topic, fail_key)

    def send(self, topic, key=None, value=None, **kwargs):
        from kafka.errors import KafkaTimeoutError
        from kafka.future import Future

        if (topic, key) == self._fail:
            future = Future()
            future.failure(KafkaTimeoutError("injected: the output topic refused the write"))
            return future
        return self._inner.send(topic, key=key, value=value, **kwargs)

    def flush(self, timeout=None):
        return self._inner.flush(timeout=timeout)

    def close(self, timeout=None):
        return self._inner.close(timeout=timeout)


def test_a_failing_sink_stops_the_commit_of_the_offsets_behind_it(kafka, monkeypatch):
    import transforms.kafka.sink as sink

    names = bench.topic_names("sinkfail")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    values = bench.articles(60, prefix="sf")
    keys = [f"sf-{n:06d}".encode() for n in range(60)]
    kafka.produce(names["in"], values, keys=keys)
    failing = keys[35]  # offset 35: in the fourth bundle of 10

    real_factory = sink._default_producer_factory
    monkeypatch.setattr(sink, "_default_producer_factory",
                        lambda **kwargs: _FailingProducer(names["out"], failing, **kwargs))
    args = ["run", "--bootstrap-servers", kafka.bootstrap, "--input-topic", names["in"], "--output-topic",
            names["out"], "--dlq-topic", names["dlq"], "--group-id", names["group"], "--until-caught-up",
            "--max-bundle-records", "10"]
    assert main(args) == 1  # the run stops with an error
    committed = kafka.committed(names["group"], names["in"]).get((names["in"], 0)) or 0
    written = {r.key for r in kafka.read_all(names["out"])}
    assert committed <= 35, "the offset of the record that could not be written was committed"
    assert set(keys[:committed]) <= written, "a committed offset covers a record that is not on the output topic"
    assert not kafka.read_all(names["dlq"]), "a write error must not turn into a dead letter"

    monkeypatch.setattr(sink, "_default_producer_factory", real_factory)
    assert main(args) == 0
    assert {r.key for r in kafka.read_all(names["out"])} == set(keys)
    assert kafka.committed(names["group"], names["in"]) == kafka.end_offsets(names["in"])


# ------------------------------------------------------------------ a broker outage


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_broker(kafka_bootstrap, tmp_path):
    """A second single-node broker of our own (the shared one keeps running), reusing its jars."""
    shared = Path(os.environ.get("NEWS_INGEST_CACHE", Path.home() / ".cache" / "news-ingest")) / "kafka"
    libs = sorted(shared.glob("libs-*"))
    if not libs or not shutil.which("java"):
        pytest.skip("no Kafka jars or java for a private broker")  # the shared broker came from elsewhere
    home = tmp_path / "broker"
    home.mkdir()
    for folder in libs:
        (home / folder.name).symlink_to(folder)
    port, controller = _free_port(), _free_port()
    env = {**os.environ, "KAFKA_HOME_DIR": str(home), "KAFKA_PORT": str(port),
           "KAFKA_CONTROLLER_PORT": str(controller), "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m"}

    def script(action: str) -> None:
        result = subprocess.run(["bash", str(BROKER_SCRIPT), action], env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr

    script("start")
    try:
        yield f"localhost:{port}", script
    finally:
        subprocess.run(["bash", str(BROKER_SCRIPT), "stop"], env=env, capture_output=True, timeout=120)


def test_broker_down_30_seconds_the_job_waits_and_resumes(private_broker, tmp_path):
    from tests.conftest import KafkaTestClient

    bootstrap, broker = private_broker
    kafka = KafkaTestClient(bootstrap)
    names = bench.topic_names("outage")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    values = bench.articles(90, prefix="ou")
    keys = [f"ou-{n:06d}".encode() for n in range(90)]
    kafka.produce(names["in"], values[:60], keys=keys[:60])
    log = tmp_path / "job.log"
    job = bench.start_job(bootstrap, names, log, "--max-bundle-records", "10")
    try:
        bench.wait_until(lambda: "news-ingest: reading" in log.read_text(), 300, "the job to start", job, log)
        if "not one fused stage" not in log.read_text():
            bench.wait_until(lambda: bench.count_records(bootstrap, names["out"]) >= 20, 600, "20 records", job, log)
        broker("stop")
        time.sleep(30)
        assert job.poll() is None, "the job exited while the broker was down: " + log.read_text()[-3000:]
        broker("start")
        kafka.produce(names["in"], values[60:], keys=keys[60:])
        if "not one fused stage" not in log.read_text():
            bench.wait_until(lambda: set(keys) <= {r.key for r in kafka.read_all(names["out"])}, 900,
                             "every article on the output topic", job, log)
        else:
            time.sleep(60)
        job.send_signal(signal.SIGTERM)
        job.wait(timeout=300)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    stderr = log.read_text()
    assert job.returncode == 0, stderr[-3000:]
    written = Counter(r.key for r in kafka.read_all(names["out"]))
    assert set(written) == set(keys), f"missing: {sorted(set(keys) - set(written))[:10]}"
    assert kafka.read_all(names["dlq"]) == [], "the outage dead-lettered articles"
    assert kafka.committed(names["group"], names["in"]) == kafka.end_offsets(names["in"])


# ------------------------------------------------------------------ the hostile catalogue through Kafka


def test_every_hostile_message_is_one_record_or_one_dead_letter_through_kafka(kafka):
    import orjson

    from tests.test_hostile_input import HOSTILE, good_article

    names = bench.topic_names("hostile")
    for role in ("in", "out", "dlq"):
        kafka.create_topic(names[role])
    values = []
    for number, (_, payload, _) in enumerate(HOSTILE):
        values += [good_article(number), payload]
    values.append(good_article(len(HOSTILE)))
    values = [v for v in values if len(v) < 1_000_000]  # the producer's and the broker's default limit: 1 MiB
    kafka.produce(names["in"], values)
    assert main(["run", "--bootstrap-servers", kafka.bootstrap, "--input-topic", names["in"], "--output-topic",
                 names["out"], "--dlq-topic", names["dlq"], "--group-id", names["group"], "--until-caught-up",
                 "--max-bundle-records", "25"]) == 0
    records = [orjson.loads(r.value) for r in kafka.read_all(names["out"])]
    dead = [orjson.loads(r.value) for r in kafka.read_all(names["dlq"])]
    offsets = Counter(item["source"]["offset"] for item in records + dead)
    assert sorted(offsets) == list(range(len(values))) and set(offsets.values()) == {1}
    good = {f"good-{n}" for n in range(len(HOSTILE) + 1)}
    assert good <= {r["id"] for r in records}
    assert all(d["error"]["message"] for d in dead)
