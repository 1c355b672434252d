"""Throughput and state size of the dedup stage alone over many synthetic articles.

    python -m bench.dedup_scale --articles 100000
    python -m bench.dedup_scale --articles 100000 --no-state-cache   # FnApiRunner without its state cache

Articles: a word-bigram chain trained on the seed texts (150-700 words each, so unrelated
articles share common trigrams as news does), arriving at ``--rate`` articles per second of
ingest time; ``--copies`` of them are syndicated variants (bench/dedup_variants.py kinds) of a
random earlier article. Reports the wall time of the pipeline (Create -> DeduplicateArticles ->
count), the pure per-article cost of ``analyze`` (no Beam), the labels, the stage's metrics, and
the memory the index holds per remembered article (``DedupIndex`` alone under tracemalloc).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

from bench.dedup_variants import add_sketch_arguments, load_seeds, make_variants, sketch_params

ROOT = Path(__file__).resolve().parents[1]

_TOKEN_BASE = 1_750_000_000.0


def synthetic_texts(count: int, seed: int = 3) -> list[str]:
    """``count`` distinct texts from a bigram chain over the seeds' words (vectorised)."""
    words = []
    for item in load_seeds():
        words.extend(item.text.replace(".", " .").split())
    vocab, ids = np.unique(np.array(words), return_inverse=True)
    order = np.argsort(ids[:-1], kind="stable")
    successors = ids[1:][order]
    starts = np.searchsorted(ids[:-1][order], np.arange(len(vocab)))
    counts = np.bincount(ids[:-1], minlength=len(vocab))
    counts[counts == 0] = 1
    rng = np.random.default_rng(seed)
    lengths = rng.integers(150, 700, size=count)
    longest = int(lengths.max())
    current = rng.integers(0, len(vocab), size=count)
    columns = [current]
    for _ in range(longest - 1):
        pick = starts[current] + (rng.random(count) * counts[current]).astype(np.int64)
        current = successors[np.minimum(pick, len(successors) - 1)]
        columns.append(current)
    table = np.stack(columns, axis=1)
    return [" ".join(vocab[table[i, :lengths[i]]]).replace(" .", ".") for i in range(count)]


def build_articles(count: int, copies: float, rate: float):
    from dedup_variants import Item

    from transforms.records import Article

    rng = random.Random(5)
    originals = synthetic_texts(count)
    texts, kinds = [], []
    for i in range(count):
        if i > 10 and rng.random() < copies:
            source = rng.randrange(len(texts))
            variant = rng.choice(make_variants(Item(str(source), None, texts[source], "seed", "", str(source)), rng))
            texts.append(variant.text)
            kinds.append("copy")
        else:
            texts.append(originals[i])
            kinds.append("original")
    articles = [Article(id=f"a{i}", text=t, title=None, url=None, published_at="2026-01-01T00:00:00Z",
                        published_at_offset=None, published_at_source="ingested", ingested_at="2026-01-01T00:00:00Z",
                        ingest_time=_TOKEN_BASE + i / rate, attribution=(), language="en",
                        source={"bench": "dedup_scale"}, ordinal=i) for i, t in enumerate(texts)]
    return articles, kinds


def _baseline_cpu(articles, options) -> float:
    """CPU seconds of Create -> timestamp -> the same counting, without the dedup stage."""
    import apache_beam as beam
    from apache_beam.transforms.window import TimestampedValue

    started = time.process_time()
    with beam.Pipeline(options=options) as root:
        _ = (root
             | beam.Create(articles, reshuffle=False)
             | beam.Map(lambda a: TimestampedValue(a, a.ingest_time))
             | "ClockIn" >> beam.Map(_clock, "baseline_in")
             | "ClockOut" >> beam.Map(_clock, "baseline_out")
             | beam.Map(lambda a: "original")
             | beam.combiners.Count.PerElement())
    return time.process_time() - started


def _clock(article, name):
    from apache_beam.metrics import Metrics

    Metrics.distribution("bench", name).update(int(time.time() * 1000))
    return article


def _index_memory(articles, config) -> None:
    """Bytes the index holds per remembered article: the same articles through ``DedupIndex`` alone,
    traced by tracemalloc (analysis done first, so only what the index keeps is counted)."""
    import tracemalloc

    from transforms.dedup.index import DedupIndex
    from transforms.dedup.sketch import analyze

    analyses = [analyze(a.text, config.sketch) for a in articles]
    index = DedupIndex(config)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for article, analysis in zip(articles, analyses):
        index.label(article, analysis)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per = held / max(1, len(index))
    print(f"index memory: {len(index)} articles remembered in {index.bucket_count} buckets, {held / 1e6:.1f} MB, "
          f"{per:.0f} B per article -> {per * 12.096e6 / 1e9:.1f} GB for 12.1 million articles (20/s for 7 days)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--copies", type=float, default=0.2, help="share of articles that are variants (default 0.2)")
    parser.add_argument("--rate", type=float, default=20.0, help="articles per second of ingest time (default 20)")
    parser.add_argument("--no-state-cache", action="store_true",
                        help="run the in-process FnApiRunner without its state cache (see docs/dedup.md)")
    parser.add_argument("--no-expiry", action="store_true", help="forget nothing (as replay does)")
    add_sketch_arguments(parser)
    args, beam_args = parser.parse_known_args(argv)

    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms.window import TimestampedValue

    from transforms.dedup import DedupConfig
    from transforms.dedup.transform import DeduplicateArticles
    from transforms.dedup.sketch import analyze

    if args.no_state_cache:
        from apache_beam.runners.portability.fn_api_runner import worker_handlers

        worker_handlers.STATE_CACHE_SIZE_MB = 0

    started = time.perf_counter()
    articles, kinds = build_articles(args.articles, args.copies, args.rate)
    words = sum(len(a.text.split()) for a in articles)
    print(f"generated {len(articles)} articles ({words / len(articles):.0f} words on average, "
          f"{kinds.count('copy')} variants) in {time.perf_counter() - started:.1f} s")

    config = DedupConfig(sketch=sketch_params(args), expire_entries=not args.no_expiry)
    sample = articles[:2000]
    started = time.perf_counter()
    for a in sample:
        analyze(a.text, config.sketch)
    per_article = (time.perf_counter() - started) / len(sample)
    print(f"analyze (shingles, MinHash, bands, sketch; no Beam): {per_article * 1000:.2f} ms per article")

    options = PipelineOptions(["--runner=FnApiRunner", *beam_args])
    baseline_cpu = _baseline_cpu(articles, options)
    started, started_cpu = time.perf_counter(), time.process_time()
    root = beam.Pipeline(options=options)
    _ = (root
         | beam.Create(articles, reshuffle=False)
         | beam.Map(lambda a: TimestampedValue(a, a.ingest_time))
         | "ClockIn" >> beam.Map(_clock, "clock_in")
         | DeduplicateArticles(config)
         | "ClockOut" >> beam.Map(_clock, "clock_out")
         | beam.Map(lambda a: a.dedup.status)
         | beam.combiners.Count.PerElement()
         | beam.Map(lambda kv: print("  status", *kv)))
    result = root.run()
    result.wait_until_finish()
    total = time.perf_counter() - started
    cpu = time.process_time() - started_cpu - baseline_cpu
    clocks = {d.key.metric.name: d.committed for d in result.metrics().query(MetricsFilter())["distributions"]
              if d.key.metric.namespace == "bench"}
    elapsed = (clocks["clock_out"].max - clocks["clock_in"].min) / 1000
    print(f"DeduplicateArticles on {args.articles} articles: {elapsed:.1f} s from the first article in to the "
          f"last out ({total:.1f} s with pipeline construction), {args.articles / elapsed:.0f} articles/s, "
          f"{elapsed / args.articles * 1000:.2f} ms per article (wall clock)")
    print(f"CPU time of the dedup stage (in-process runner; the same pipeline without the stage subtracted, "
          f"{baseline_cpu:.1f} s): {cpu:.1f} s, {cpu / args.articles * 1000:.2f} ms per article, "
          f"{args.articles / cpu:.0f} articles per CPU second")
    counters: dict[str, int] = {}
    for counter in result.metrics().query(MetricsFilter())["counters"]:
        if counter.key.metric.namespace == "dedup":
            counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + counter.committed
    for name in sorted(counters):
        print(f"  metric dedup.{name} = {counters[name]}")
    _index_memory(articles, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
