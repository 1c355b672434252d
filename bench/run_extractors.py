"""Run spaCy and the extractors (no Beam) over article JSON Lines, for scoring with newseval.py.

    python bench/run_extractors.py dev.jsonl > dev.extracted.jsonl
    python ../shared/eval/newseval.py score ../shared/data/meantime-dev dev.extracted.jsonl

The records carry only the fields the scorer reads (id, text, timexes, events, entities);
`news-ingest replay` produces the same fields through the whole pipeline.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone

import orjson

from transforms.nlp.transform import annotate_docs, default_model_name, load_model
from transforms.parse.article import parse_message
from transforms.records import RawMessage


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("articles", help="article JSON Lines (id, title, text, published_at)")
    parser.add_argument("--spacy-model", default=default_model_name())
    args = parser.parse_args(argv)
    nlp = load_model(args.spacy_model)
    now = datetime.now(timezone.utc)
    articles = []
    with open(args.articles, "rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            message = RawMessage(line, {"file": args.articles, "line": line_number}, now.timestamp(), "json")
            articles.append(parse_message(message))
    started = time.perf_counter()
    docs = nlp.pipe(a.text for a in articles)
    for article, enrichment in zip(articles, annotate_docs(zip(docs, articles))):
        record = {"id": article.id, "text": article.text, "published_at": article.published_at,
                  "entities": enrichment.entities, "timexes": enrichment.timexes, "events": enrichment.events}
        sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
    print(f"{len(articles)} articles in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
