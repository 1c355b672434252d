"""Time each extractor against spaCy's own pass over the same docs, as a percentage of nlp.pipe.

    python bench/extract_cost.py dev.jsonl                 # the 60 dev texts repeated to ~600 docs
    python bench/extract_cost.py dev.jsonl --docs 600 --rounds 5 --json

The budget of issue 5 is that timex extraction adds at most 5% to the NLP stage. nlp.pipe runs
once over all docs (batch_size as in the pipeline); each extractor then runs ``--rounds`` times
over the same parsed docs and the fastest round counts (the least disturbed by other load on the
machine). Extractors take what the pipeline gives them: extract_entities(doc),
extract_timexes(doc, anchor), extract_events(doc, timexes, anchor).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import datetime, timezone
from typing import Callable

import orjson

from transforms.nlp.transform import DEFAULT_BATCH_SIZE, default_model_name, extract_entities, load_model, publication_anchor
from transforms.parse.article import parse_message
from transforms.records import RawMessage

_DEFAULT_DOCS = 600
_DEFAULT_ROUNDS = 3


def _extractors() -> dict[str, Callable]:
    """name -> function(doc, anchor, timexes); an extractor that cannot be imported is left out."""
    from transforms.timex import extract_timexes

    out: dict[str, Callable] = {
        "extract_entities": lambda doc, anchor, timexes: extract_entities(doc),
        "extract_timexes": lambda doc, anchor, timexes: extract_timexes(doc, anchor),
    }
    try:
        from transforms.events import extract_events
    except ImportError as exc:  # another stage still being written
        print(f"extract_events not measured: {exc}", file=sys.stderr)
    else:
        out["extract_events"] = lambda doc, anchor, timexes: extract_events(doc, timexes, anchor)
    return out


def _load_articles(path: str) -> list:
    now = datetime.now(timezone.utc).timestamp()
    with open(path, "rb") as handle:
        return [parse_message(RawMessage(line, {"file": path, "line": n}, now, "json"))
                for n, line in enumerate(handle, start=1) if line.strip()]


def measure(articles: list, nlp, n_docs: int, rounds: int, batch_size: int) -> dict:
    """Seconds for nlp.pipe over ``n_docs`` docs (the articles repeated) and for each extractor."""
    from transforms.timex import extract_timexes

    repeated = [articles[i % len(articles)] for i in range(n_docs)]
    anchors = [publication_anchor(a) for a in repeated]
    started = time.perf_counter()
    docs = list(nlp.pipe((a.text for a in repeated), batch_size=batch_size))
    nlp_seconds = time.perf_counter() - started
    timexes = [extract_timexes(doc, anchor) for doc, anchor in zip(docs, anchors)]
    results = {}
    for name, extractor in _extractors().items():
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            for doc, anchor, found in zip(docs, anchors, timexes):
                extractor(doc, anchor, found)
            best = min(best, time.perf_counter() - started)
        results[name] = best
    words = sum(len(doc) for doc in docs)
    return {"docs": len(docs), "tokens": words, "nlp_pipe_seconds": nlp_seconds, "extractor_seconds": results}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("articles", help="article JSON Lines (id, title, text, published_at)")
    parser.add_argument("--docs", type=int, default=_DEFAULT_DOCS, help="docs to time (articles repeated)")
    parser.add_argument("--rounds", type=int, default=_DEFAULT_ROUNDS, help="rounds per extractor; the fastest counts")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--spacy-model", default=default_model_name())
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.docs < 1 or args.rounds < 1:
        parser.error("--docs and --rounds must be positive")
    articles = _load_articles(args.articles)
    if not articles:
        parser.error(f"no articles in {args.articles}")
    nlp = load_model(args.spacy_model)
    result = measure(articles, nlp, args.docs, args.rounds, args.batch_size)
    result.update(model=args.spacy_model, batch_size=args.batch_size, rounds=args.rounds,
                  python=platform.python_version(), machine=platform.machine())
    base = result["nlp_pipe_seconds"]
    result["extractor_percent_of_nlp_pipe"] = {k: 100.0 * v / base for k, v in result["extractor_seconds"].items()}
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(result) + b"\n")
        return 0
    print(f"{result['docs']} docs, {result['tokens']} tokens, model {args.spacy_model}, batch {args.batch_size}")
    print(f"{'nlp.pipe':18s} {base:8.2f} s  {1000 * base / result['docs']:7.2f} ms/doc  100.0 %")
    for name, seconds in result["extractor_seconds"].items():
        print(f"{name:18s} {seconds:8.3f} s  {1000 * seconds / result['docs']:7.3f} ms/doc  "
              f"{result['extractor_percent_of_nlp_pipe'][name]:5.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
