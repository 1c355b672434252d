"""Record types shared by every stage, and the one output record (schema v1)."""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

__all__ = [
    "SCHEMA_ID",
    "DEAD_LETTERS",
    "DEFAULT_MAX_DEAD_LETTER_PAYLOAD_BYTES",
    "RawMessage",
    "DeadLetter",
    "DeadLetterStage",
    "DeadLetterReason",
    "REASONS_BY_STAGE",
    "DedupStatus",
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


DeadLetterStage = Literal["read", "parse", "nlp", "sink"]


class DeadLetterReason(str, enum.Enum):
    """Why a message became a dead letter: a closed set, chosen where the error is raised. The values
    are the ``reason`` label of ``news_ingest_dead_letters_total`` (docs/observability.md)."""

    # read (transforms/file_safety.py): a file that is not a regular file, or cannot be read
    UNREADABLE_FILE = "unreadable_file"
    # parse (transforms/parse/article.py)
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    NUL_BYTES = "nul_bytes"
    EMPTY = "empty"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_TEXT = "missing_text"
    BAD_FIELD = "bad_field"
    NO_TEXT = "no_text"
    TEXT_TOO_LARGE = "text_too_large"
    WORD_TOO_LARGE = "word_too_large"
    HTML_MARKUP = "html_markup"
    # nlp (transforms/nlp/annotate.py): more tokens than the limit
    LIMIT_EXCEEDED = "limit_exceeded"
    # sink (transforms/kafka/sink.py): over the topic's record size
    RECORD_TOO_LARGE = "record_too_large"
    # any stage: an error the code does not expect (a bug, a library's error); error.type names it
    UNEXPECTED_ERROR = "unexpected_error"


_PARSE_REASONS = tuple(r for r in DeadLetterReason if r not in (
    DeadLetterReason.UNREADABLE_FILE, DeadLetterReason.LIMIT_EXCEEDED, DeadLetterReason.RECORD_TOO_LARGE))
# The reasons each stage can give, so that every (stage, reason) counter exists from the start at 0.
REASONS_BY_STAGE: Mapping[str, tuple[DeadLetterReason, ...]] = {
    "read": (DeadLetterReason.UNREADABLE_FILE,),
    "parse": _PARSE_REASONS,
    "nlp": (DeadLetterReason.LIMIT_EXCEEDED, DeadLetterReason.UNEXPECTED_ERROR),
    "sink": (DeadLetterReason.RECORD_TOO_LARGE, DeadLetterReason.UNEXPECTED_ERROR),
}


@dataclass(frozen=True)
class DeadLetter:
    """A message that a stage could not process, with the reason; nothing is dropped silently.

    ``reason`` is the class counted in metrics; ``error_type`` and ``message`` are what the record
    shows (schema: ``error.type``, ``error.message``)."""

    stage: DeadLetterStage
    error_type: str
    message: str
    payload: bytes
    source: Mapping[str, Any]
    reason: DeadLetterReason

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


DedupStatus = Literal["original", "exact_duplicate", "near_duplicate"]


@dataclass(frozen=True)
class Dedup:
    status: DedupStatus
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
