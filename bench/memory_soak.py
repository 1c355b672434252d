"""Memory and time soak (issue 8): 100,000 short articles through the real Kafka job; RSS at every 10,000.

    python bench/memory_soak.py soak --count 100000 --horizon 600 --out /tmp/soak.json      # needs the broker
    python bench/memory_soak.py timing --count 100000 --out /tmp/timing.json                # no broker
    python bench/memory_soak.py limits --out /tmp/limits.json                               # worst cases

``soak`` writes ``count`` distinct ~60-word articles (sentences of the Wikinews seeds plus a sentence with
ever-new numbers and names, so the vocabulary keeps growing) to a fresh topic, with Kafka timestamps
``spacing`` seconds apart (default 0.1 s: 100,000 articles span 10,000 s of ingest time). It then runs
``news-ingest run --until-caught-up`` over that topic as a child process and samples the child's resident
memory (VmRSS of the process tree) every ``--sample-seconds`` while it counts the records on the output
topic; the first sample at or past every 10,000 records is reported. The dedup horizon (``--horizon``,
default 600 s of ingest time) is short against the 10,000 s span, so dedup entries expire all through the
run (expiry timers fire as the watermark, i.e. the Kafka timestamps, moves on).

``timing`` runs the articles through ``parse_message`` and the NLP DoFn itself (``_AnnotateBatchFn`` over
batches of 64, the pipeline's default: token limit, spaCy inside ``memory_zone``, entities, timexes,
events) in this process, reports its RSS and the size of spaCy's string store at every 10,000, and
percentiles of the per-article time, including p99.9 (an article's time is its batch's: it leaves the
stage when its batch does): the bound documented in docs/reliability.md.

``limits`` times the slowest inputs the limits let through (texts at the character, word and token limits),
each alone.

Output: one JSON document (``--out``) and a short table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT))
sys.path.insert(0, str(_ROOT / "bench"))

_SEED = 20261128
_TARGET_WORDS = 60
_FIRST_NAMES = ("Ana", "Bo", "Chidi", "Dara", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kwame", "Lena")
_SURNAME_SYLLABLES = ("ka", "lo", "mi", "ran", "sel", "tov", "vic", "wen", "zu", "dre", "nak", "pol")


def short_articles(count: int, seed: int = _SEED) -> list[dict]:
    """``count`` distinct articles of about 60 words from the Wikinews seeds, each with new numbers and names."""
    from corpus import load_seeds, split_sentences

    seeds = load_seeds()
    sentences = [s for article in seeds for s in split_sentences(article["text"]) if 5 <= len(s.split()) <= 45]
    rng = random.Random(seed)
    out = []
    for number in range(count):
        start = rng.randrange(len(sentences))
        taken, words = [], 0
        while words < _TARGET_WORDS - 15:
            sentence = sentences[(start + len(taken)) % len(sentences)]
            taken.append(sentence)
            words += len(sentence.split())
        # New surnames and numbers every time: the string store would grow without memory_zone.
        surname = "".join(rng.choice(_SURNAME_SYLLABLES) for _ in range(3)).capitalize()
        taken.append(f"{rng.choice(_FIRST_NAMES)} {surname} filed report {number} from desk {rng.randint(1, 10**6)} "
                     f"on {rng.choice(('Monday', 'Tuesday', 'Friday'))}.")
        out.append({"id": f"soak-{number:06d}", "title": f"Soak {number}", "text": " ".join(taken),
                    "published_at": seeds[start % len(seeds)].get("published_at"), "source": "Wikinews"})
    return out


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``: the children of each of its threads, and theirs."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.update(children)
            todo.extend(children)
    return found


def _rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB (0 when it is gone)."""
    total = 0
    for current in {pid} | descendants(pid):
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def _topic_count(consumer, topic: str) -> int:
    from kafka import TopicPartition

    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        return 0
    ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    return sum(ends.values())


def produce(bootstrap: str, topic: str, articles: list[dict], *, base_ms: int, spacing_ms: int) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024)
    for index, article in enumerate(articles):
        producer.send(topic, json.dumps(article).encode("utf-8"), key=article["id"].encode(),
                      timestamp_ms=base_ms + index * spacing_ms)
    producer.flush()
    producer.close()


def soak(args) -> dict:
    from kafka import KafkaConsumer

    articles = short_articles(args.count)
    words = statistics.mean(len(a["text"].split()) for a in articles)
    run_id = uuid.uuid4().hex[:8]
    topics = {name: f"soak-{run_id}-{name}" for name in ("in", "out", "dlq")}
    base_ms = int(time.time() * 1000) - int(args.count * args.spacing * 1000)  # the span ends now
    started = time.time()
    produce(args.bootstrap, topics["in"], articles, base_ms=base_ms, spacing_ms=int(args.spacing * 1000))
    print(f"produced {args.count} articles ({words:.1f} words on average) to {topics['in']} "
          f"in {time.time() - started:.1f} s", flush=True)
    command = [sys.executable, "-m", "pipeline.cli", "run", "--bootstrap-servers", args.bootstrap,
               "--input-topic", topics["in"], "--output-topic", topics["out"], "--dlq-topic", topics["dlq"],
               "--group-id", f"soak-{run_id}", "--until-caught-up", "--create-topics",
               "--dedup-horizon-seconds", str(args.horizon), *args.extra]
    print(" ".join(command), flush=True)
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap)
    started = time.time()
    child = subprocess.Popen(command, cwd=_ROOT, stderr=open(args.log, "w"))
    samples, marks, next_mark, peak = [], [], args.every, 0
    while True:
        alive = child.poll() is None
        rss = _rss_kib(child.pid) if alive else 0
        done = _topic_count(consumer, topics["out"]) + _topic_count(consumer, topics["dlq"])
        peak = max(peak, rss)
        samples.append((round(time.time() - started, 1), done, rss))
        while done >= next_mark and rss:
            marks.append({"records": next_mark, "seen": done, "seconds": samples[-1][0], "rss_mib": round(rss / 1024, 1)})
            print(f"{next_mark:>7d} records ({done} written) at {samples[-1][0]:7.1f} s: RSS {rss / 1024:7.1f} MiB",
                  flush=True)
            next_mark += args.every
        if not alive:
            break
        time.sleep(args.sample_seconds)
    elapsed = time.time() - started
    out_count, dlq_count = _topic_count(consumer, topics["out"]), _topic_count(consumer, topics["dlq"])
    consumer.close()
    result = {"kind": "soak", "articles": args.count, "mean_words": round(words, 1), "horizon_seconds": args.horizon,
              "spacing_seconds": args.spacing, "exit_code": child.returncode, "seconds": round(elapsed, 1),
              "records": out_count, "dead_letters": dlq_count, "peak_rss_mib": round(peak / 1024, 1),
              "marks": marks, "samples": samples, "topics": topics, "command": command}
    print(f"exit {child.returncode}: {out_count} records, {dlq_count} dead letters in {elapsed:.0f} s, "
          f"peak RSS {peak / 1024:.0f} MiB", flush=True)
    return result


def _self_rss_kib() -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))


def timing(args) -> dict:
    """Each article alone through parse and the NLP DoFn (memory_zone, token limit, spaCy, extractors)."""
    from transforms.nlp.transform import _AnnotateBatchFn, default_model_name
    from transforms.parse.article import parse_message
    from transforms.records import RawMessage

    articles = short_articles(args.count)
    annotate = _AnnotateBatchFn(args.spacy_model or default_model_name(), batch_size=args.batch)
    annotate.setup()
    ingest = time.time()
    times, marks, dead, done = [], [], 0, 0
    started = time.time()
    for first in range(0, len(articles), args.batch):
        begin = time.perf_counter()
        batch = [parse_message(RawMessage(json.dumps(article).encode("utf-8"), {"file": "soak.jsonl", "line": i + 1},
                                          ingest, "json", i))
                 for i, article in enumerate(articles[first:first + args.batch], start=first)]
        outputs = list(annotate.process(batch))
        # Every article of a batch leaves the stage when its batch does: its time is the batch's.
        times.extend([time.perf_counter() - begin] * len(batch))
        dead += sum(1 for o in outputs if hasattr(o, "tag"))
        before, done = done, done + len(batch)
        if done // args.every > before // args.every:
            rss = _self_rss_kib()
            marks.append({"articles": done, "seconds": round(time.time() - started, 1),
                          "rss_mib": round(rss / 1024, 1), "strings": len(annotate._nlp.vocab.strings)})
            print(f"{done:>7d} articles at {marks[-1]['seconds']:7.1f} s: RSS {rss / 1024:7.1f} MiB, "
                  f"{marks[-1]['strings']} strings in the vocab", flush=True)
    ordered = sorted(times)

    def pct(p):
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)

    result = {"kind": "timing", "articles": len(times), "dead_letters": dead,
              "mean_ms": round(statistics.mean(times) * 1000, 1), "p50_ms": pct(50), "p99_ms": pct(99),
              "p99_9_ms": pct(99.9), "max_ms": round(ordered[-1] * 1000, 1), "marks": marks,
              "load_average": os.getloadavg()}
    print(" ".join(f"{k}={v}" for k, v in result.items() if k != "marks"), flush=True)
    return result


def limits(args) -> dict:
    """The slowest inputs the limits let through, each alone through parse and the NLP DoFn."""
    from transforms.nlp.transform import DEFAULT_MAX_TOKENS, _AnnotateBatchFn, default_model_name
    from transforms.parse.article import DEFAULT_MAX_TEXT_CHARS, DEFAULT_MAX_WORD_CHARS, parse_message
    from transforms.records import RawMessage

    rng = random.Random(_SEED)
    people = ("Angela Merkel", "Barack Obama", "Xi Jinping", "Narendra Modi", "Airbus", "Boeing", "NATO")
    places = ("Paris", "Berlin", "Tokyo", "Nairobi", "Lima", "Oslo")

    def fill(make, limit):
        parts, size = [], 0
        while size < limit:
            parts.append(make())
            size += len(parts[-1]) + 1
        return " ".join(parts)[:limit].rsplit(" ", 1)[0]

    punctuation = "\"'()[]{}.,;:!?-*"
    cases = {
        "entity-dense prose at the text limit": fill(
            lambda: f"{rng.choice(people)} met {rng.choice(people)} in {rng.choice(places)} on {rng.randint(1, 28)} "
                    f"May 2024.", DEFAULT_MAX_TEXT_CHARS - 1),
        "one token per two characters, just under the token limit": "1 " * (DEFAULT_MAX_TOKENS - 10),
        "punctuation runs at the word limit": fill(
            lambda: "".join(rng.choice(punctuation) for _ in range(DEFAULT_MAX_WORD_CHARS)), DEFAULT_MAX_TEXT_CHARS - 1),
        "one sentence of 30,000 words": fill(lambda: rng.choice(("and", "the", "plane", "flew", "far")), 150_000),
    }
    annotate = _AnnotateBatchFn(args.spacy_model or default_model_name(), batch_size=1)
    annotate.setup()
    result = {"kind": "limits", "cases": {}}
    for name, text in cases.items():
        payload = json.dumps({"id": "limit", "text": text}).encode("utf-8")
        begin = time.perf_counter()
        try:
            parsed = parse_message(RawMessage(payload, {"file": "limits"}, time.time(), "json"))
            outputs = list(annotate.process([parsed]))
            outcome = "dead letter" if any(hasattr(o, "tag") for o in outputs) else "record"
        except Exception as err:  # a parse refusal is a dead letter too
            outcome = f"dead letter ({type(err).__name__}: {err})"
        seconds = time.perf_counter() - begin
        result["cases"][name] = {"chars": len(text), "seconds": round(seconds, 2), "outcome": outcome}
        print(f"{name}: {len(text)} chars, {seconds:.2f} s, {outcome}", flush=True)
    result["load_average"] = os.getloadavg()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("soak")
    run.add_argument("--count", type=int, default=100_000)
    run.add_argument("--every", type=int, default=10_000, help="report RSS at every this many records")
    run.add_argument("--horizon", type=float, default=600.0, help="--dedup-horizon-seconds (ingest time)")
    run.add_argument("--spacing", type=float, default=0.1, help="seconds of Kafka timestamp between articles")
    run.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"))
    run.add_argument("--sample-seconds", type=float, default=1.0)
    run.add_argument("--log", default="/tmp/memory_soak.run.log", help="the job's stderr")
    run.add_argument("--out", help="JSON result")
    run.add_argument("extra", nargs="*", help="more arguments for news-ingest run (after --)")
    timed = commands.add_parser("timing")
    timed.add_argument("--count", type=int, default=100_000)
    timed.add_argument("--every", type=int, default=10_000, help="report RSS at every this many articles")
    timed.add_argument("--spacy-model")
    timed.add_argument("--batch", type=int, default=64, help="articles per nlp.pipe batch (the pipeline's default)")
    timed.add_argument("--out", help="JSON result")
    worst = commands.add_parser("limits")
    worst.add_argument("--spacy-model")
    worst.add_argument("--out", help="JSON result")
    args = parser.parse_args(argv)
    result = {"soak": soak, "timing": timing, "limits": limits}[args.command](args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0 if result.get("exit_code", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
