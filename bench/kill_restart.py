"""kill -9 of the Kafka job mid-stream, then a restart (issue 8): nothing lost; how many records twice?

    python -m bench.kill_restart --count 2000 --kill-at 700 --bundle-records 100    # needs the broker

Produces ``count`` distinct short articles to a fresh topic, starts ``news-ingest run`` (streaming) as a
child process, sends it SIGKILL once ``kill-at`` records are on the output topic (or, when the graph is
not one fused stage and nothing is written before the run stops, ``--kill-after`` seconds after it
started reading), then runs the same consumer group again with ``--until-caught-up``. It reports the
records written before the kill, the records in all, the distinct ids, the duplicates (records minus
distinct ids), the ids missing (must be 0), the dead letters and the committed offsets against the end
offsets. tests/pipeline/test_reliability_kafka.py runs the same scenario, smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from bench.corpus import load_seeds, short_articles

ROOT = Path(__file__).resolve().parent.parent


def topic_names(prefix: str) -> dict:
    suffix = uuid.uuid4().hex[:8]
    return {role: f"rel-{prefix}-{role}-{suffix}" for role in ("in", "out", "dlq", "group")}


def articles(count: int, prefix: str = "kr") -> list[bytes]:
    return [json.dumps(article).encode("utf-8") for article in short_articles(load_seeds(), count, prefix=prefix)]


def start_job(bootstrap: str, names: dict, log: Path, *extra: str) -> subprocess.Popen:
    """``news-ingest run`` as a child process (its own process group), stderr to ``log``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "pipeline.cli", "run", "--bootstrap-servers", bootstrap,
               "--input-topic", names["in"], "--output-topic", names["out"], "--dlq-topic", names["dlq"],
               "--group-id", names["group"], *extra]
    with open(log, "a") as stderr:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)


def count_records(bootstrap: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return 0
        return sum(consumer.end_offsets([TopicPartition(topic, p) for p in partitions]).values())
    finally:
        consumer.close()


def read_keys(bootstrap: str, topic: str) -> list[str]:
    from transforms.kafka import admin as kafka_admin
    from transforms.kafka.config import KafkaConnection

    records = kafka_admin.read_topic(KafkaConnection((bootstrap,)), topic)
    return [r.key.decode("utf-8") if r.key else "" for r in records]


def wait_until(condition, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the job exited ({process.returncode}) while waiting for {what}: "
                                 f"{log.read_text()[-3000:] if log else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


def kill_restart(bootstrap: str, count: int, kill_at: int, *, bundle_records: int = 100, partitions: int = 2,
                 kill_after: float = 60.0, workdir: Path = Path("/tmp"), timeout: float = 1800.0) -> dict:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from transforms.kafka import admin as kafka_admin
    from transforms.kafka.config import KafkaConnection

    names = topic_names("kill")
    client = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        client.create_topics([NewTopic(names["in"], num_partitions=partitions, replication_factor=1),
                              NewTopic(names["out"], num_partitions=partitions, replication_factor=1),
                              NewTopic(names["dlq"], num_partitions=1, replication_factor=1)])
    finally:
        client.close()
    values = articles(count)
    ids = [json.loads(v)["id"] for v in values]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in zip(ids, values):
        producer.send(names["in"], key=key.encode(), value=value)
    producer.flush()
    producer.close()

    log = workdir / f"kill-restart-{names['group']}.log"
    log.write_text("")
    started = time.monotonic()
    job = start_job(bootstrap, names, log, "--max-bundle-records", str(bundle_records))
    try:
        wait_until(lambda: "news-ingest: reading" in log.read_text(), 300, "the job to start", job, log)
        fused = "not one fused stage" not in log.read_text()
        if fused:
            wait_until(lambda: count_records(bootstrap, names["out"]) >= kill_at, timeout, f"{kill_at} records",
                       job, log)
        else:
            time.sleep(kill_after)
        os.killpg(job.pid, signal.SIGKILL)  # kill -9: no signal handler, no flush, no commit
        job.wait(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
    killed_after = time.monotonic() - started
    before_restart = count_records(bootstrap, names["out"])
    connection = KafkaConnection((bootstrap,))
    committed_at_kill = sum(v or 0 for v in kafka_admin.committed_offsets(connection, names["group"], [names["in"]]).values())

    restart = start_job(bootstrap, names, log, "--until-caught-up")
    code = restart.wait(timeout=timeout)
    keys = read_keys(bootstrap, names["out"])
    seen = Counter(keys)
    ends = kafka_admin.end_offsets(connection, [names["in"]])
    committed = kafka_admin.committed_offsets(connection, names["group"], [names["in"]])
    result = {
        "articles": count, "partitions": partitions, "bundle_records": bundle_records, "fused": fused,
        "killed_after_seconds": round(killed_after, 1), "written_before_kill": before_restart,
        "committed_before_kill": committed_at_kill, "restart_exit_code": code,
        "records": len(keys), "distinct_ids": len(seen), "duplicates": len(keys) - len(seen),
        "missing": sorted(set(ids) - set(seen))[:20], "missing_count": len(set(ids) - set(seen)),
        "dead_letters": count_records(bootstrap, names["dlq"]),
        "committed_equals_end": committed == ends, "topics": names, "log": str(log),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--kill-at", type=int, default=700, help="records on the output topic when the job is killed")
    parser.add_argument("--kill-after", type=float, default=60.0,
                        help="seconds after the start of reading to kill an unfused job (it writes nothing before)")
    parser.add_argument("--bundle-records", type=int, default=100, help="--max-bundle-records of the job")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--out", help="JSON result")
    args = parser.parse_args(argv)
    result = kill_restart(args.bootstrap, args.count, args.kill_at, bundle_records=args.bundle_records,
                          partitions=args.partitions, kill_after=args.kill_after)
    print(json.dumps({k: v for k, v in result.items() if k != "missing"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0 if result["missing_count"] == 0 and result["restart_exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
