"""Dedup stage: label exact copies of an article before NLP so that they skip it."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer

from transforms.parse import normalize_text
from transforms.records import Article, Dedup

__all__ = ["DEFAULT_HORIZON_SECONDS", "DedupConfig", "content_key", "DeduplicateArticles"]

_LOGGER = logging.getLogger(__name__)

DEFAULT_HORIZON_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class DedupConfig:
    horizon_seconds: float = DEFAULT_HORIZON_SECONDS


def content_key(text: str) -> str:
    """Equal for texts that are the same after normalization (case, Unicode form, quotes, whitespace)."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()[:32]


class _LabelExactCopiesFn(beam.DoFn):
    """Keyed by content: the first article seen under a key is the original, later ones its copies.

    State expires ``horizon`` seconds of ingest time after the original was seen (event-time timer on
    the element timestamp, which sources set to the ingest time, never to the article's own date).
    """

    FIRST = ReadModifyWriteStateSpec("first", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: DedupConfig):
        self._horizon = config.horizon_seconds

    def process(self, keyed, timestamp=beam.DoFn.TimestampParam, first=beam.DoFn.StateParam(FIRST),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, article = keyed
        original_id = first.read()
        if original_id is None:
            first.write(article.id)
            expiry.set(timestamp + self._horizon)
            yield dataclasses.replace(article, dedup=Dedup("original", None, article.id, None))
        else:
            yield dataclasses.replace(article, dedup=Dedup("exact_duplicate", original_id, original_id, 1.0))

    @on_timer(EXPIRY)
    def expire(self, first=beam.DoFn.StateParam(FIRST)):
        first.clear()


class DeduplicateArticles(beam.PTransform):
    """Article -> Article with ``dedup`` set; copies keep their text and are written, flagged, without NLP."""

    def __init__(self, config: DedupConfig = DedupConfig()):
        super().__init__()
        if config.horizon_seconds <= 0:
            raise ValueError("dedup horizon must be positive")
        self._config = config

    def expand(self, articles):
        return (
            articles
            | "KeyByContent" >> beam.Map(lambda a: (content_key(a.text), a)).with_output_types(tuple[str, Article])
            | "LabelExactCopies" >> beam.ParDo(_LabelExactCopiesFn(self._config))
        )
