"""NLP stage: spaCy over batches of articles, then the extractors (entities, timexes, events) on each Doc."""

from __future__ import annotations

import logging
import re
from typing import Iterable, Sequence

import apache_beam as beam

from transforms.pubtime import ZONE_ABBREVIATIONS, PublicationTime, parse_offset, parse_publication_time
from transforms import metrics
from transforms.records import DEAD_LETTERS, Article, DeadLetter, Enrichment
from transforms.spacy_processes import DEFAULT_MAX_TOKENS, annotate_in_worker, default_model_name, load_model, take_pool

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_NLP_PROCESSES",
    "DEFAULT_MAX_TOKENS",
    "default_model_name",
    "load_model",
    "extract_entities",
    "annotate_docs",
    "AnnotateArticles",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
# 1: spaCy runs in the worker's own process. N > 1: in a pool of N spawned processes (see _PooledAnnotateBatchFn).
DEFAULT_NLP_PROCESSES = 1

# Known errors of the small English model on news: zone abbreviations tagged as
# organisations ("06:59 IST"), and ages ("26-year-old") tagged as dates.
_NOT_ZONES_AS_ENTITIES = {"Z", "UT", "UK"}  # letters that are also ordinary words or names
_TIMEZONE_NAMES = frozenset(ZONE_ABBREVIATIONS) - _NOT_ZONES_AS_ENTITIES
_AGE_TEXT = re.compile(r"^\d+[-\s]years?[-\s]old$", re.IGNORECASE)


def extract_entities(doc) -> list[dict]:
    entities = []
    for ent in doc.ents:
        if ent.label_ == "ORG" and ent.text in _TIMEZONE_NAMES:
            continue
        if ent.label_ == "DATE" and _AGE_TEXT.match(ent.text):
            continue
        entities.append({"text": ent.text, "label": ent.label_, "start": ent.start_char, "end": ent.end_char})
    return entities


def publication_anchor(article: Article) -> PublicationTime:
    """The article's publication time, in its own offset when known: relative dates resolve against it."""
    published = parse_publication_time(article.published_at, now=None)
    return PublicationTime(published.utc, parse_offset(article.published_at_offset))


def annotate_docs(docs_and_articles: Iterable[tuple[object, Article]]) -> Iterable[Enrichment]:
    """The extract stage: entities, then time expressions, then events (which attach to the timexes)."""
    from transforms.events import extract_events
    from transforms.timex import extract_timexes

    for doc, article in metrics.timed_iter("nlp", docs_and_articles):  # spaCy's time: nlp.pipe is lazy
        anchor = publication_anchor(article)
        timexes = metrics.timed_call("timex", extract_timexes, doc, anchor)
        events = metrics.timed_call("events", extract_events, doc, timexes, anchor)
        yield Enrichment(entities=extract_entities(doc), timexes=timexes, events=events)


def _article_payload(article: Article) -> bytes:
    import orjson

    return orjson.dumps({"id": article.id, "title": article.title, "url": article.url, "text": article.text,
                         "published_at": article.published_at})


class _AnnotateBatchFn(beam.DoFn):
    """Loads the spaCy model once per worker (setup) and runs ``nlp.pipe`` over each batch of articles."""

    def __init__(self, model_name: str, batch_size: int, max_tokens: int = DEFAULT_MAX_TOKENS):
        self._model_name = model_name
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._nlp = None

    def setup(self):
        self._nlp = load_model(self._model_name)

    def process(self, batch: Sequence[Article]):
        try:
            # Strings that spaCy interns for a batch are freed when the zone closes, so a worker's
            # vocab does not grow with every new name it ever reads; nothing of a Doc outlives it.
            with self._nlp.memory_zone():
                tokenized = [(self._nlp.make_doc(a.text), a) for a in batch]  # pipe() skips tokenizing a Doc
                kept = [a for doc, a in tokenized if len(doc) <= self._max_tokens]
                too_long = [beam.pvalue.TaggedOutput(DEAD_LETTERS, DeadLetter(
                    "nlp", "LimitExceeded", f"text of {len(doc)} tokens is over the limit of {self._max_tokens}",
                    _article_payload(a), a.source)) for doc, a in tokenized if len(doc) > self._max_tokens]
                docs = self._nlp.pipe((doc for doc, _ in tokenized if len(doc) <= self._max_tokens),
                                      batch_size=self._batch_size)
                annotated = list(zip(kept, annotate_docs(zip(docs, kept)))) + too_long
        except Exception as err:
            if len(batch) > 1:  # one bad article must not sink its batch: retry one by one to isolate it
                for article in batch:
                    yield from self.process([article])
                return
            _LOGGER.exception("annotation failed for article %s", batch[0].id)
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, DeadLetter(
                "nlp", type(err).__name__, str(err), _article_payload(batch[0]), batch[0].source))
            return
        yield from annotated


# -- the NLP DoFn over a pool of spaCy processes ----------------------------------------------------

class _PooledAnnotateBatchFn(beam.DoFn):
    """``_AnnotateBatchFn`` run in N long-lived spaCy processes, so that NLP uses more than one core.

    Beam's own parallelism does not help here: the FnApiRunner runs a replay's one fused stage on one
    worker whatever ``--direct_num_workers`` says, and multi_processing moves every dedup state access
    onto gRPC (BENCHMARKS.md, Performance). spaCy's ``n_process`` starts new processes, and loads the
    model again, on every ``nlp.pipe`` call. Here the processes are spawned once per DoFn instance (a
    model each) and the unchanged ``_AnnotateBatchFn`` runs in them: token limit, ``memory_zone``,
    extractors and the one-by-one retry into dead letters are the same code.

    Batches are submitted as they come and results are emitted in submission order with the
    timestamp and window of their batch; at most two batches per process are in flight, and
    ``finish_bundle`` waits for the rest, so a bundle never ends with work outstanding (the Kafka
    commit order holds). A pool process that dies fails the bundle (its offsets stay uncommitted) and
    the pool is started again for the next one.
    """

    def __init__(self, model_name: str, batch_size: int, processes: int, max_tokens: int = DEFAULT_MAX_TOKENS):
        if processes < 2:
            raise ValueError(f"a pool needs at least 2 processes, got {processes}")
        self._model_name = model_name
        self._batch_size = batch_size
        self._processes = processes
        self._max_tokens = max_tokens
        self._pool = None
        self._pending = None

    def setup(self):
        self._pool = take_pool(self._model_name, self._batch_size, self._processes, self._max_tokens)

    def start_bundle(self):
        import collections

        if self._pool is None:
            self.setup()
        self._pending = collections.deque()

    def process(self, batch: Sequence[Article], timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        self._pending.append((self._submit(list(batch)), timestamp, window))
        yield from self._drain(in_flight=2 * self._processes)

    def finish_bundle(self):
        yield from self._drain(in_flight=0)

    def teardown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _submit(self, batch: list[Article]):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self._pool.submit(annotate_in_worker, batch)
        except BrokenProcessPool:
            self._restart()
            raise

    def _drain(self, in_flight: int):
        from concurrent.futures.process import BrokenProcessPool
        from apache_beam.utils.windowed_value import WindowedValue

        while self._pending and (len(self._pending) > in_flight or self._pending[0][0].done()):
            future, timestamp, window = self._pending.popleft()
            try:
                outputs = future.result()
            except BrokenProcessPool:
                self._restart()
                raise
            for tag, value in outputs:
                windowed = WindowedValue(value, timestamp, (window,))
                yield beam.pvalue.TaggedOutput(tag, windowed) if tag else windowed

    def _restart(self) -> None:
        _LOGGER.error("an NLP pool process died; the bundle fails and the pool starts again")
        self.teardown()
        self._pending.clear()


class AnnotateArticles(beam.PTransform):
    """Article -> (Article, Enrichment): spaCy over batches, then entities, timexes and events per Doc.

    The extractors run in the same DoFn as spaCy so that Docs never cross a Beam boundary
    (a Doc does not serialize cheaply); each extractor lives in its own module. ``processes`` > 1
    runs that DoFn's work in a pool of spaCy processes (``--nlp-processes``).
    """

    def __init__(self, model_name: str, batch_size: int = DEFAULT_BATCH_SIZE, processes: int = DEFAULT_NLP_PROCESSES):
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if processes < 1:
            raise ValueError("at least one NLP process is needed")
        self._model_name = model_name
        self._batch_size = batch_size
        self._processes = processes

    def expand(self, articles):
        annotate = (_AnnotateBatchFn(self._model_name, self._batch_size) if self._processes == 1
                    else _PooledAnnotateBatchFn(self._model_name, self._batch_size, self._processes))
        return (
            articles
            # A fixed size: BatchElements' adaptive estimator fits a regression in every bundle's
            # start and finish (0.24 ms against 0.05 ms fixed), which added up to 15% of a replay's
            # end-of-input timer phase; spaCy wants full batches anyway, and a bundle still flushes
            # its partial batch when it ends (BENCHMARKS.md, Performance).
            | "Batch" >> beam.BatchElements(min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "RunSpacy" >> beam.ParDo(annotate).with_outputs(DEAD_LETTERS, main="annotated")
        )
