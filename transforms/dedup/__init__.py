"""Dedup stage: label exact and near copies of an article before NLP so that they skip it.

Design, thresholds and state size: docs/dedup.md. Pure logic: ``transforms.dedup.sketch``;
DoFns: ``transforms.dedup._fns``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam

from transforms.dedup import _fns
from transforms.dedup.sketch import SketchParams, content_key
from transforms.records import Article

__all__ = ["DEFAULT_HORIZON_SECONDS", "DedupConfig", "content_key", "DeduplicateArticles"]

_LOGGER = logging.getLogger(__name__)

DEFAULT_HORIZON_SECONDS = 7 * 24 * 3600
_DEFAULT_MAX_BUCKET = 64
_DEFAULT_MAX_CANDIDATES = 16


@dataclass(frozen=True)
class DedupConfig:
    """``horizon_seconds``: how long (ingest time) an article can be the original of later copies.
    ``max_bucket``: entries one LSH bucket keeps (the earliest); ``max_candidates``: candidates
    verified per article (those sharing the most bands)."""

    horizon_seconds: float = DEFAULT_HORIZON_SECONDS
    sketch: SketchParams = field(default_factory=SketchParams)
    max_bucket: int = _DEFAULT_MAX_BUCKET
    max_candidates: int = _DEFAULT_MAX_CANDIDATES


class DeduplicateArticles(beam.PTransform):
    """Article -> Article with ``dedup`` set; copies keep their text and are written, flagged, without NLP.

    Guarantees: an article is a copy of the earliest article (ingest time, then ordinal) within
    the horizon that was already indexed when it arrived and that verifies against it; exact
    copies (same normalized text) are always found. Input order is kept per key on one worker, so
    a replay labels the same input the same way every time. Output elements carry their
    ingest time as timestamp; output order is not the input order.
    """

    def __init__(self, config: DedupConfig = DedupConfig()):
        super().__init__()
        if not config.horizon_seconds > 0:
            raise ValueError("dedup horizon must be positive")
        if config.max_bucket < 1 or config.max_candidates < 1:
            raise ValueError("max_bucket and max_candidates must be at least 1")
        self._config = config

    def expand(self, articles):
        config = self._config
        prepared = articles | "Prepare" >> beam.ParDo(_fns._PrepareFn(config.sketch)).with_outputs(
            _fns.BAND_QUERIES, _fns.SKETCHES, _fns.ARTICLES, main="infos")
        answers = prepared[_fns.BAND_QUERIES] | "QueryBands" >> beam.ParDo(
            _fns._BandIndexFn(config.horizon_seconds, config.max_bucket)).with_input_types(tuple[int, Any])
        collected = (
            (prepared.infos, answers)
            | "JoinBandAnswers" >> beam.Flatten()
            | "CollectCandidates" >> beam.ParDo(_fns._CollectCandidatesFn(config.max_candidates))
            .with_input_types(tuple[bytes, Any]).with_outputs(_fns.VERIFY_REQUESTS, main="pending")
        )
        verdicts = (
            (prepared[_fns.SKETCHES], collected[_fns.VERIFY_REQUESTS])
            | "JoinSketchesAndRequests" >> beam.Flatten()
            | "VerifyCandidates" >> beam.ParDo(_fns._SketchStoreFn(config.horizon_seconds, config.sketch))
            .with_input_types(tuple[bytes, Any])
        )
        return (
            (prepared[_fns.ARTICLES], collected.pending, verdicts)
            | "JoinVerdicts" >> beam.Flatten()
            | "Decide" >> beam.ParDo(_fns._DecideFn()).with_input_types(tuple[bytes, Any]).with_output_types(Article)
        )
