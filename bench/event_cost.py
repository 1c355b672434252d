"""What event extraction adds to the NLP stage: time of nlp.pipe vs time of extract_events on the same Docs.

    python bench/event_cost.py /tmp/dev.jsonl --repeat 5

Reads article JSON Lines (id, text, published_at; `newseval.py make-input` or bench/corpus.py
writes them), parses every text once with spaCy's nlp.pipe (timed), computes the timexes (not
timed: they belong to the timex extractor), then times extract_events over the same Docs. Each
phase runs --repeat times and the fastest run counts, so a busy machine inflates neither side.
The one-off load of the verb lemma table (transforms.events.types.verb_lemmas) happens before
timing and is printed apart. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone

from transforms.events.types import verb_lemmas
from transforms.events import extract_events
from transforms.nlp.transform import default_model_name, load_model, publication_anchor
from transforms.parse.article import parse_message
from transforms.records import RawMessage
from transforms.timex import extract_timexes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("articles", help="article JSON Lines (id, text, published_at)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--spacy-model", default=default_model_name())
    args = parser.parse_args(argv)

    now = datetime.now(timezone.utc).timestamp()
    with open(args.articles, "rb") as handle:
        articles = [parse_message(RawMessage(line, {"line": n}, now, "json")) for n, line in enumerate(handle, 1)]
    texts = [a.text for a in articles]
    nlp = load_model(args.spacy_model)
    list(nlp.pipe(texts[:4]))  # warm-up

    started = time.perf_counter()
    verb_count = len(verb_lemmas())
    table_seconds = time.perf_counter() - started

    nlp_runs, docs = [], None
    for _ in range(args.repeat):
        started = time.perf_counter()
        docs = list(nlp.pipe(texts))
        nlp_runs.append(time.perf_counter() - started)
    anchors = [publication_anchor(a) for a in articles]
    timexes = [extract_timexes(doc, anchor) for doc, anchor in zip(docs, anchors)]

    event_runs, events = [], 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        events = sum(len(extract_events(doc, tx, anchor)) for doc, tx, anchor in zip(docs, timexes, anchors))
        event_runs.append(time.perf_counter() - started)

    nlp_s, events_s = min(nlp_runs), min(event_runs)
    print(json.dumps({
        "articles": len(texts),
        "tokens": sum(len(doc) for doc in docs),
        "events": events,
        "spacy_model": args.spacy_model,
        "nlp_pipe_s": round(nlp_s, 3),
        "extract_events_s": round(events_s, 4),
        "extract_events_first_run_s": round(event_runs[0], 4),
        "events_vs_nlp_pct": round(100 * events_s / nlp_s, 2),
        "first_run_vs_nlp_pct": round(100 * event_runs[0] / nlp_s, 2),
        "verb_table_load_s_once": round(table_seconds, 3),
        "verb_table_size": verb_count,
        "repeat": args.repeat,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
