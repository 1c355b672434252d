"""Dedup stage: label exact and near copies of an article before NLP so that they skip it.

Design, thresholds and state size: docs/dedup.md. Here: the stage's settings, without Beam (the CLI
reads its defaults before Beam is imported). Pure logic: ``transforms.dedup.sketch`` (what a text
becomes) and ``transforms.dedup.index`` (which earlier article it copies); the Beam transform:
``transforms.dedup.transform.DeduplicateArticles``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transforms.dedup.sketch import SketchParams, content_key

__all__ = ["DEFAULT_HORIZON_SECONDS", "DEFAULT_LATENESS_SECONDS", "DedupConfig", "content_key"]

DEFAULT_HORIZON_SECONDS = 7 * 24 * 3600
DEFAULT_LATENESS_SECONDS = 600.0
_DEFAULT_MAX_BUCKET = 64
_DEFAULT_MAX_CANDIDATES = 16


@dataclass(frozen=True)
class DedupConfig:
    """``horizon_seconds``: how long (ingest time) an article can be the original of later copies.
    ``max_bucket``: entries one LSH bucket keeps (the earliest); ``max_candidates``: candidates
    verified per article (those sharing the most bands, then the earliest). ``expire_entries``:
    forget articles past the horizon (the Kafka job); False for a bounded replay, where every
    article has the run's start as ingest time and nothing can expire. ``lateness_seconds``: how
    far behind the newest ingest time seen an article may arrive and still find every original
    within its horizon (an article is forgotten that long after its horizon has passed)."""

    horizon_seconds: float = DEFAULT_HORIZON_SECONDS
    sketch: SketchParams = field(default_factory=SketchParams)
    max_bucket: int = _DEFAULT_MAX_BUCKET
    max_candidates: int = _DEFAULT_MAX_CANDIDATES
    expire_entries: bool = True
    lateness_seconds: float = DEFAULT_LATENESS_SECONDS
