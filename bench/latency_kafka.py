"""End-to-end latency of the Kafka job (``news-ingest run``) at a steady rate, and the highest rate it sustains.

    bash deploy/kafka/local-kafka.sh start
    python -m bench.latency_kafka --rate 20 --seconds 30            # p50/p99 at 20 articles/s
    python -m bench.latency_kafka --rates 10,20,30,40 --seconds 20  # lag at each rate: flat or growing

For each rate: fresh input/output/dead-letter topics and group, one ``news-ingest run`` process started
and warmed up (model loaded, a few articles through) before timing starts, then a producer sends unique
articles (bench/corpus.py, 600 distinct texts; never a copy, so dedup lets every one through to NLP) at a
fixed rate with ``send_ns`` stamped locally per id. A consumer on the output topic stamps each record's
arrival. Latency = arrival - send, for every article sent during the timed window. Lag = articles sent
minus records received, sampled every second; "flat" when its slope over the second half of the window is
below 5% of the rate (it does not keep growing) and everything arrives within ``--drain`` seconds after
the producer stops. The job is stopped with SIGTERM at the end.

Broker: localhost:9092 unless --bootstrap-servers. Topics are named ``lat-<rate>-<random>`` and deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.corpus import ensure_corpus
from bench.proc import percentile

_ROOT = Path(__file__).resolve().parent.parent


class _Receiver(threading.Thread):
    """Consumes the output topic from the beginning; records each id's arrival (monotonic ns)."""

    def __init__(self, bootstrap: str, topic: str):
        super().__init__(daemon=True)
        from kafka import KafkaConsumer

        self.arrivals: dict[str, int] = {}
        self.statuses: dict[str, str] = {}
        self._halt = threading.Event()
        self._consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                       enable_auto_commit=False, group_id=None, fetch_max_wait_ms=50)

    def run(self):
        while not self._halt.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                now = time.monotonic_ns()
                for record in records:
                    value = json.loads(record.value)
                    self.arrivals.setdefault(value["id"], now)
                    self.statuses[value["id"]] = (value.get("dedup") or {}).get("status", "?")
        self._consumer.close()

    def stop(self):
        self._halt.set()
        self.join(timeout=10)


def _admin(bootstrap: str):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap)


def measure_rate(rate: float, seconds: float, articles: list[dict], bootstrap: str, project: Path,
                 job_args: list[str], drain: float, warmup_articles: int = 5, log=sys.stderr) -> dict:
    from kafka import KafkaProducer
    from kafka.admin import NewTopic

    tag = f"lat-{int(rate)}-{uuid.uuid4().hex[:8]}"
    topics = {"in": f"{tag}-in", "out": f"{tag}-out", "dlq": f"{tag}-dlq"}
    admin = _admin(bootstrap)
    admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
    env = dict(os.environ, PYTHONPATH=str(project))
    job_log = tempfile.NamedTemporaryFile(prefix=f"{tag}-", suffix=".log", delete=False)
    job = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--bootstrap-servers", bootstrap, "--input-topic", topics["in"],
         "--output-topic", topics["out"], "--dlq-topic", topics["dlq"], "--group-id", f"{tag}-g", *job_args],
        cwd=project, env=env, stdout=job_log, stderr=subprocess.STDOUT)
    receiver = _Receiver(bootstrap, topics["out"])
    receiver.start()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks=1)
    result: dict = {"rate": rate, "seconds": seconds, "job_args": job_args, "job_log": job_log.name}
    try:
        # Warm-up: the first articles wait for start-up and the model; not timed.
        warm = articles[:warmup_articles]
        for article in warm:
            producer.send(topics["in"], json.dumps(dict(article, id="warm-" + article["id"])).encode())
        producer.flush()
        started = time.monotonic()
        while sum(1 for k in receiver.arrivals if k.startswith("warm-")) < len(warm):
            if job.poll() is not None or time.monotonic() - started > 600:
                result["error"] = f"warm-up failed (job rc {job.poll()}); see {job_log.name}"
                return result
            time.sleep(0.1)
        result["warmup_s"] = round(time.monotonic() - started, 1)
        timed = articles[warmup_articles:warmup_articles + int(rate * seconds)]
        sent: dict[str, int] = {}
        lag_samples: list[tuple[float, int]] = []
        interval_ns = int(1e9 / rate)
        t0 = time.monotonic_ns()
        next_sample = t0
        for index, article in enumerate(timed):
            due = t0 + index * interval_ns
            while True:
                now = time.monotonic_ns()
                if now >= next_sample:
                    lag_samples.append(((now - t0) / 1e9, len(sent) - sum(1 for k in sent if k in receiver.arrivals)))
                    next_sample += 1_000_000_000
                if now >= due:
                    break
                time.sleep(min(0.005, (due - now) / 1e9))
            producer.send(topics["in"], json.dumps(article).encode())
            sent[article["id"]] = time.monotonic_ns()
        producer.flush()
        sent_for = (time.monotonic_ns() - t0) / 1e9
        drain_deadline = time.monotonic() + drain
        while time.monotonic() < drain_deadline and not all(k in receiver.arrivals for k in sent):
            now = time.monotonic_ns()
            if now >= next_sample:
                lag_samples.append(((now - t0) / 1e9, sum(1 for k in sent if k not in receiver.arrivals)))
                next_sample += 1_000_000_000
            time.sleep(0.05)
        latencies = [(receiver.arrivals[k] - t) / 1e6 for k, t in sent.items() if k in receiver.arrivals]
        half = [(t, lag) for t, lag in lag_samples if seconds / 2 <= t <= sent_for]
        slope = _slope(half) if len(half) >= 3 else float("nan")
        result.update({
            "sent": len(sent), "sent_for_s": round(sent_for, 2), "received": len(latencies),
            "latency_ms_p50": round(percentile(latencies, 50), 1), "latency_ms_p90": round(percentile(latencies, 90), 1),
            "latency_ms_p99": round(percentile(latencies, 99), 1), "latency_ms_max": round(max(latencies, default=float("nan")), 1),
            "lag_slope_per_s": round(slope, 2), "lag_max": max((lag for _, lag in lag_samples), default=0),
            "lag_flat": bool(slope == slope and slope < 0.05 * rate and len(latencies) == len(sent)),
            "copies_flagged": sum(1 for k in sent if receiver.statuses.get(k, "original") != "original"),
            "lag_samples": lag_samples,
        })
        return result
    finally:
        producer.close()
        if job.poll() is None:
            job.send_signal(signal.SIGTERM)
            try:
                job.wait(timeout=120)
            except subprocess.TimeoutExpired:
                job.kill()
                job.wait()
        receiver.stop()
        result["job_rc"] = job.returncode
        try:
            admin.delete_topics(list(topics.values()))
        except Exception:  # noqa: BLE001 - cleanup only
            pass
        admin.close()


def _slope(points: list[tuple[float, int]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, help="one rate (articles/s)")
    parser.add_argument("--rates", help="comma-separated rates, each with a fresh job")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--drain", type=float, default=60, help="wait this long for stragglers after sending")
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--project", default=str(_ROOT))
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "news-ingest-bench"))
    parser.add_argument("--job-args", default="", help="extra arguments for news-ingest run (quoted)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    import shlex

    rates = [float(r) for r in (args.rates.split(",") if args.rates else [args.rate or 20])]
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = ensure_corpus("unique", workdir)
    with open(corpus, encoding="utf-8") as handle:
        articles = [json.loads(line) for line in handle]
    results = []
    for rate in rates:
        if 5 + rate * args.seconds > len(articles):
            print(f"rate {rate} x {args.seconds} s needs more than {len(articles)} unique articles; shorten --seconds",
                  file=sys.stderr)
            return 2
        result = measure_rate(rate, args.seconds, articles, args.bootstrap_servers, Path(args.project).resolve(),
                              shlex.split(args.job_args), args.drain)
        results.append(result)
        shown = {k: v for k, v in result.items() if k != "lag_samples"}
        print(json.dumps(shown), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
