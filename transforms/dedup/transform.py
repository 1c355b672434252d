"""The dedup stage as a Beam transform: ``DeduplicateArticles`` (settings: ``transforms.dedup.DedupConfig``)."""

from __future__ import annotations

import apache_beam as beam

from transforms.dedup import DedupConfig, _chain

__all__ = ["DeduplicateArticles"]


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
