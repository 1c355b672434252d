"""Messages per second through the Beam Kafka source alone, against a plain kafka-python consumer loop.

    bash deploy/kafka/local-kafka.sh start
    python bench/kafka_source.py --messages 100000 --partitions 3 --repeat 3

All read the same topic from its beginning to its end offsets in the same process, one after the
other, ``--repeat`` times (the order rotates). The plain loop polls 1,000 records at a time and
touches every value, twice: with kafka-python's defaults otherwise, and with exactly the consumer
settings of the source (``KafkaSourceConfig.consumer_kwargs``). The Beam run is
``ReadFromKafka(until the end offsets) | count`` on the FnApiRunner, committing offsets per bundle as
in production. Values are the seed articles (``seeds/``), cycled, as a producer would send them.
Reported: the median of each, and the ratio of Beam to the *faster* plain loop (target: >= 0.7).
"Beam, read only" times the span from the first to the last element seen downstream (no pipeline
start-up); "Beam, end to end" includes building and starting the pipeline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import apache_beam as beam  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402
from apache_beam.metrics.metric import MetricsFilter  # noqa: E402

from pipeline.run import freeze_startup_objects  # noqa: E402
from pipeline.options import beam_options  # noqa: E402
from transforms.kafka import admin  # noqa: E402
from transforms.kafka.config import KafkaConnection, KafkaSourceConfig  # noqa: E402
from transforms.kafka.source import ReadFromKafka, close_committers  # noqa: E402


def seed_payloads() -> list[bytes]:
    from transforms.files import find_article_files, read_article_file

    return [m.payload for f in find_article_files([str(ROOT / "seeds")]) for m in read_article_file(f, 0.0)]


def fill_topic(connection: KafkaConnection, topic: str, partitions: int, count: int, payloads: list[bytes]) -> int:
    from kafka import KafkaProducer

    admin.create_topics(connection, {topic: partitions})
    producer = KafkaProducer(linger_ms=20, batch_size=256 * 1024, acks=1, **connection.client_kwargs())
    total = 0
    for n in range(count):
        value = payloads[n % len(payloads)]
        total += len(value)
        producer.send(topic, key=str(n).encode(), value=value)
    producer.flush()
    producer.close()
    return total


def plain_loop(connection: KafkaConnection, topic: str, settings: dict) -> tuple[int, float, float]:
    from kafka import KafkaConsumer, TopicPartition

    # Frozen as `news-ingest run` freezes itself before it runs, like the Beam read below: neither
    # loop keeps an advantage of the process.
    freeze_startup_objects()
    cpu = time.process_time()
    started = time.perf_counter()
    consumer = KafkaConsumer(**settings)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    count = size = 0
    reading = list(partitions)
    while reading:
        for records in consumer.poll(timeout_ms=200, max_records=1000).values():
            for record in records:
                count += 1
                size += len(record.value)
        # A partition read to its end is paused, as the source does: otherwise every later fetch
        # asks for it too, and the broker holds such a fetch for fetch.max.wait.ms (500 ms) when
        # the partitions it names have nothing new.
        done = [tp for tp in reading if consumer.position(tp) >= ends[tp]]
        if done:
            consumer.pause(*done)
            reading = [tp for tp in reading if tp not in done]
    consumer.close()
    return count, time.perf_counter() - started, time.process_time() - cpu


class _CountFn(beam.DoFn):
    def __init__(self):
        self._count = Metrics.counter("bench", "messages")
        self._first = Metrics.distribution("bench", "first_ms")
        self._last = Metrics.distribution("bench", "last_ms")

    def start_bundle(self):
        self._n = 0
        self._started = None

    def process(self, message):
        if self._started is None:
            self._started = time.time()
        self._n += len(message.payload) >= 0

    def finish_bundle(self):
        if self._n:
            self._count.inc(self._n)
            self._first.update(int(self._started * 1000))
            self._last.update(int(time.time() * 1000))


def beam_source(connection: KafkaConnection, topic: str, max_bundle_records: int) -> tuple[int, float, float, float]:
    ends = admin.end_offsets(connection, [topic])
    config = KafkaSourceConfig(connection, (topic,), f"bench-{uuid.uuid4().hex[:8]}",
                               stop_offsets=tuple((t, p, o) for (t, p), o in sorted(ends.items())))
    cpu = time.process_time()
    started = time.perf_counter()
    root = beam.Pipeline(options=beam_options([]))  # as the Kafka job builds them (FnApiRunner)
    _ = root | ReadFromKafka(config, max_records_per_bundle=max_bundle_records) | beam.ParDo(_CountFn())
    freeze_startup_objects()
    result = root.run()
    result.wait_until_finish()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    close_committers()
    metrics = result.metrics().query(MetricsFilter().with_namespace("bench"))
    count = sum(c.committed for c in metrics["counters"])
    first = min(d.committed.min for d in metrics["distributions"] if d.key.metric.name == "first_ms")
    last = max(d.committed.max for d in metrics["distributions"] if d.key.metric.name == "last_ms")
    return count, elapsed, (last - first) / 1000.0, cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--payload-bytes", type=int, default=0,
                        help="synthetic values of this size instead of the seed articles")
    parser.add_argument("--max-bundle-records", type=int, default=10_000)
    parser.add_argument("--topic", help="read this existing topic (its whole length) instead of filling a new one: "
                                        "A/B runs of two checkouts over the same messages")
    args = parser.parse_args(argv)
    connection = KafkaConnection(args.bootstrap_servers)
    payloads = [b"x" * args.payload_bytes] if args.payload_bytes else seed_payloads()
    if args.topic:
        topic = args.topic
        args.messages = sum(admin.end_offsets(connection, [topic]).values())
        print(f"topic {topic}: {args.messages} messages")
    else:
        topic = f"bench-source-{uuid.uuid4().hex[:8]}"
        total = fill_topic(connection, topic, args.partitions, args.messages, payloads)
        print(f"topic {topic}: {args.messages} messages, {args.partitions} partitions, "
              f"{total / args.messages:.0f} bytes per value on average")
    source_settings = KafkaSourceConfig(connection, (topic,), "unused").consumer_kwargs()
    plain_settings = {"plain, kafka-python defaults": {"enable_auto_commit": False, "max_poll_records": 1000,
                                                       **connection.client_kwargs()},
                      "plain, the source's settings": source_settings}
    plain = {name: [] for name in plain_settings}
    plain_cpu = {name: [] for name in plain_settings}
    beam_read, beam_total, beam_cpu = [], [], []
    names = [*plain_settings, "beam"]
    for run in range(args.repeat):
        for which in names[run % len(names):] + names[:run % len(names)]:
            if which != "beam":
                count, seconds, cpu = plain_loop(connection, topic, plain_settings[which])
                assert count == args.messages, count
                plain[which].append(count / seconds)
                plain_cpu[which].append(cpu / count * 1e6)
                print(f"  run {run + 1}: {which:30s} {count / seconds:9.0f} msg/s ({seconds:.2f} s, "
                      f"CPU {cpu / count * 1e6:.1f} us/msg)")
            else:
                count, seconds, read_seconds, cpu = beam_source(connection, topic, args.max_bundle_records)
                assert count == args.messages, count
                beam_total.append(count / seconds)
                beam_read.append(count / read_seconds)
                beam_cpu.append(cpu / count * 1e6)
                print(f"  run {run + 1}: Beam source, read only {count / read_seconds:9.0f} msg/s ({read_seconds:.2f} s); "
                      f"end to end {count / seconds:9.0f} msg/s ({seconds:.2f} s, CPU {cpu / count * 1e6:.1f} us/msg)")
    medians = {name: statistics.median(rates) for name, rates in plain.items()}
    for name, rate in medians.items():
        print(f"median {name}: {rate:.0f} msg/s, CPU {statistics.median(plain_cpu[name]):.1f} us/msg")
    p = max(medians.values())
    r, t = statistics.median(beam_read), statistics.median(beam_total)
    print(f"median Beam: read only {r:.0f} msg/s (ratio {r / p:.2f} to the faster plain loop); end to end {t:.0f} msg/s "
          f"(ratio {t / p:.2f}); CPU {statistics.median(beam_cpu):.1f} us/msg (with pipeline start-up); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
