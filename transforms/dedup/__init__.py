"""Dedup stage: label exact and near copies of an article before NLP so that they skip it.

Design, thresholds and state size: docs/dedup.md. Pure logic: ``transforms.dedup.sketch``;
DoFns (one linear chain, no Flatten or grouping): ``transforms.dedup._chain``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import apache_beam as beam

from transforms.dedup import _chain
from transforms.dedup.sketch import SketchParams, content_key

__all__ = ["DEFAULT_HORIZON_SECONDS", "DedupConfig", "content_key", "DeduplicateArticles"]

_LOGGER = logging.getLogger(__name__)

DEFAULT_HORIZON_SECONDS = 7 * 24 * 3600
_DEFAULT_MAX_BUCKET = 64
_DEFAULT_MAX_CANDIDATES = 16


@dataclass(frozen=True)
class DedupConfig:
    """``horizon_seconds``: how long (ingest time) an article can be the original of later copies.
    ``max_bucket``: entries one LSH bucket keeps (the earliest); ``max_candidates``: candidates
    verified per article (those sharing the most bands, then the earliest). ``expire_entries``:
    set event-time timers that drop state after the horizon (the Kafka job); False for a bounded
    replay, where every article has the run's start as ingest time and nothing can expire."""

    horizon_seconds: float = DEFAULT_HORIZON_SECONDS
    sketch: SketchParams = field(default_factory=SketchParams)
    max_bucket: int = _DEFAULT_MAX_BUCKET
    max_candidates: int = _DEFAULT_MAX_CANDIDATES
    expire_entries: bool = True


class DeduplicateArticles(beam.PTransform):
    """Article -> Article with ``dedup`` set; copies keep their text and are written, flagged, without NLP.

    Guarantees: an article is a copy of the earliest article (ingest time, then ordinal) within
    the horizon that was already indexed when it arrived and that verifies against it; exact
    copies (same normalized text) are always found. Input order is kept per key on one worker, so
    a replay labels the same input the same way every time. Output elements carry their
    ingest time as timestamp; on one worker an article leaves before the next one enters.
    """

    def __init__(self, config: DedupConfig = DedupConfig()):
        super().__init__()
        if not config.horizon_seconds > 0:
            raise ValueError("dedup horizon must be positive")
        if config.max_bucket < 1 or config.max_candidates < 1:
            raise ValueError("max_bucket and max_candidates must be at least 1")
        self._config = config

    def expand(self, articles):
        return _chain.apply_chain(articles, self._config)
