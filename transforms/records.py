"""Record types shared by every stage, and the one output record (schema v1)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "SCHEMA_ID",
    "DEAD_LETTERS",
    "DEFAULT_MAX_DEAD_LETTER_PAYLOAD_BYTES",
    "RawMessage",
    "DeadLetter",
    "Dedup",
    "Article",
    "Enrichment",
    "build_record",
    "load_schema",
]

# v2 (additive): the optional ``given_id``. v1 records still validate against enriched-article.v1.json.
SCHEMA_ID = "news-ingest/enriched-article/v2"

# The tag of every fallible stage's second output.
DEAD_LETTERS = "dead_letters"

# A dead letter keeps at most this much of its payload (size and hash are always kept),
# so one hostile message cannot produce an oversized dead letter.
DEFAULT_MAX_DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One input message as a source read it, before any parsing.

    ``content_kind`` is "text" (a raw scraped page), "json" (an article object)
    or "auto" (decide from the bytes). ``ingest_time`` is seconds since the epoch:
    the Kafka record timestamp, or the start of the run in replay. ``ordinal``
    orders messages of one source (input position in replay, offset in Kafka).
    ``read_error`` says why a file could not be read (the message is then a dead letter).
    """

    payload: bytes
    source: Mapping[str, Any]
    ingest_time: float
    content_kind: str = "auto"
    ordinal: int = 0
    read_error: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A message that a stage could not process, with the reason; nothing is dropped silently."""

    stage: str
    error_type: str
    message: str
    payload: bytes
    source: Mapping[str, Any]

    def to_dict(self, max_payload_bytes: int = DEFAULT_MAX_DEAD_LETTER_PAYLOAD_BYTES) -> dict:
        kept = self.payload[:max_payload_bytes]
        text, encoding = _utf8_prefix(kept, truncated=len(self.payload) > max_payload_bytes), "utf-8"
        if text is None:
            text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
        return {
            "error": {"stage": self.stage, "type": self.error_type, "message": self.message[:2000]},
            "source": dict(self.source),
            "payload": text,
            "payload_encoding": encoding,
            "payload_bytes": len(self.payload),
            "payload_truncated": len(self.payload) > max_payload_bytes,
            "payload_sha256": hashlib.sha256(self.payload).hexdigest(),
        }


def _utf8_prefix(data: bytes, *, truncated: bool) -> str | None:
    """The bytes as text when they are UTF-8; a cut may split the last character, which is dropped."""
    for cut in range(4 if truncated else 1):
        try:
            return data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


@dataclass(frozen=True)
class Dedup:
    status: str  # "original" | "exact_duplicate" | "near_duplicate"
    duplicate_of: str | None
    cluster_id: str
    similarity: float | None

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "duplicate_of": self.duplicate_of,
            "cluster_id": self.cluster_id,
            "similarity": self.similarity,
        }


@dataclass(frozen=True)
class Article:
    """A parsed article: every later offset points into ``text``."""

    id: str
    text: str
    title: str | None
    url: str | None
    published_at: str  # ISO 8601 UTC with "Z"
    published_at_offset: str | None  # the article's own UTC offset, "+05:30", when known
    published_at_source: str  # "header" | "field" | "ingested"
    ingested_at: str  # ISO 8601 UTC with "Z"
    ingest_time: float  # seconds since the epoch; drives dedup expiry, never the article's date
    attribution: tuple[str, ...]
    language: str
    source: Mapping[str, Any]
    ordinal: int = 0
    dedup: Dedup | None = None
    given_id: str | None = None  # the input's id when ``id`` had to be derived (transforms/dedup/index.py)


@dataclass(frozen=True)
class Enrichment:
    entities: list = field(default_factory=list)
    timexes: list = field(default_factory=list)
    events: list = field(default_factory=list)


def build_record(article: Article, enrichment: Enrichment, pipeline_info: Mapping[str, str]) -> dict:
    """The v2 output record (transforms/schema/enriched-article.v2.json)."""
    dedup = article.dedup or Dedup("original", None, article.id, None)
    record = {
        "schema": SCHEMA_ID,
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "text": article.text,
        "published_at": article.published_at,
        "published_at_offset": article.published_at_offset,
        "published_at_source": article.published_at_source,
        "ingested_at": article.ingested_at,
        "attribution": list(article.attribution),
        "language": article.language,
        "source": dict(article.source),
        "entities": enrichment.entities,
        "timexes": enrichment.timexes,
        "events": enrichment.events,
        "dedup": dedup.to_dict(),
        "pipeline": dict(pipeline_info),
    }
    if article.given_id is not None:
        record["given_id"] = article.given_id
    return record


def load_schema(name: str = "enriched-article.v2.json") -> dict:
    """A JSON Schema shipped with the package (transforms/schema/)."""
    import json
    from importlib import resources

    return json.loads(resources.files("transforms").joinpath("schema", name).read_text("utf-8"))
