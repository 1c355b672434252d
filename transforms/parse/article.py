"""Raw scraped pages and article objects into Articles with a stable id and a UTC publication time (no Beam here;
the DoFn is in ``transforms.parse.transform``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from transforms.parse.pubtime import format_offset, format_utc, parse_publication_time
from transforms.records import Article, RawMessage

__all__ = [
    "DEFAULT_MAX_TEXT_CHARS",
    "ArticleParseError",
    "ParseLimits",
    "parse_message",
    "split_raw_page",
    "article_id",
    "canonical_url",
    "normalize_text",
]

DEFAULT_MAX_TEXT_CHARS = 200_000
DEFAULT_MAX_PAYLOAD_BYTES = 2_000_000
# spaCy's tokenizer splits affixes off a whitespace-free run one at a time with an end-anchored regex
# search over the rest of the run: quadratic in the run's length (16,000 quotes take a minute). No word
# or URL of news prose comes near this (docs/reliability.md).
DEFAULT_MAX_WORD_CHARS = 1_000
# A publication time more than this far past the ingest time is not believed (pubtime's rule for fields).
_MAX_PUBLISHED_AHEAD = timedelta(days=2)

_BOILERPLATE_LINE = re.compile(
    r"^(?:advertisement|advertisements|sponsored|story continues below(?: advertisement)?|"
    r"continue reading(?: below)?|read more|also read|share this article)\s*:?\s*$",
    re.IGNORECASE,
)
# A credit line names the agencies that supplied the copy: "Inputs: AP", "With inputs from PTI, Reuters".
_CREDIT_LINE = re.compile(r"^(?:with\s+)?(?:inputs?|source|sources|credit|credits)(?:\s+from)?\s*:?\s+(?P<who>.+)$", re.IGNORECASE)
_AGENCIES = ("AP", "Reuters", "AFP", "PTI", "ANI", "IANS", "UPI", "DPA", "EFE", "Xinhua", "Bloomberg", "TASS", "Kyodo")
_AGENCY_ALT = "|".join(_AGENCIES)
_AGENCY_ONLY_LINE = re.compile(rf"^\(?(?:{_AGENCY_ALT})\)?\.?$")
_AGENCY_IN_DATELINE = re.compile(rf"\((?P<who>{_AGENCY_ALT})\)")
_AGENCY_SPLIT = re.compile(r"\s*(?:,|/|&|\band\b)\s*")
_TRACKING_PARAM = re.compile(r"^(?:utm_.*|fbclid|gclid|ref|cmpid|ocid)$", re.IGNORECASE)


class ArticleParseError(ValueError):
    """The message cannot become an article; the message says why."""


@dataclass(frozen=True)
class ParseLimits:
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    max_word_chars: int = DEFAULT_MAX_WORD_CHARS


def parse_message(message: RawMessage, limits: ParseLimits = ParseLimits()) -> Article:
    """Turn one raw message into an Article, or raise ArticleParseError."""
    if len(message.payload) > limits.max_payload_bytes:
        raise ArticleParseError(f"payload of {len(message.payload)} bytes is over the limit of {limits.max_payload_bytes}")
    try:
        decoded = message.payload.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ArticleParseError(f"payload is not valid UTF-8 ({err.reason} at byte {err.start})") from None
    if "\x00" in decoded:
        raise ArticleParseError("payload contains NUL bytes")
    if not decoded.strip():
        raise ArticleParseError("payload is empty")
    kind = message.content_kind
    if kind == "auto":
        kind = "json" if _is_json_document(decoded) else "text"
    ingested = datetime.fromtimestamp(message.ingest_time, tz=timezone.utc)
    if kind == "json":
        fields = _fields_from_object(_load_object(decoded), ingested)
    else:
        fields = _fields_from_page(decoded)
    text = fields["text"]
    if not text.strip():
        raise ArticleParseError("article has no body text")
    if len(text) > limits.max_text_chars:
        raise ArticleParseError(f"text of {len(text)} characters is over the limit of {limits.max_text_chars}")
    longest = max(map(len, text.split()), default=0)
    if longest > limits.max_word_chars:
        raise ArticleParseError(f"a word of {longest} characters is over the limit of {limits.max_word_chars}")
    if _looks_like_html(text):
        raise ArticleParseError("text is HTML markup, not plain text")
    published = fields.get("published")
    if published is not None and published.utc - ingested > _MAX_PUBLISHED_AHEAD:
        published = None  # a page header dated past the ingest time (a field's date is checked by pubtime)
    if published is None:
        published_at, offset, published_source = format_utc(ingested), None, "ingested"
    else:
        published_at, offset = format_utc(published.utc), format_offset(published.offset_minutes)
        published_source = fields["published_source"]
    return Article(
        id=fields.get("id") or article_id(url=fields.get("url"), text=text, source=message.source),
        text=text,
        title=fields.get("title"),
        url=fields.get("url"),
        published_at=published_at,
        published_at_offset=offset,
        published_at_source=published_source,
        ingested_at=format_utc(ingested),
        ingest_time=message.ingest_time,
        attribution=tuple(fields.get("attribution", ())),
        language=fields.get("language") or "en",
        source=dict(message.source),
        ordinal=message.ordinal,
    )


def split_raw_page(page: str) -> dict:
    """A scraped page: optional timestamp header, title line, body; boilerplate and credit lines removed."""
    lines = page.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    fields: dict[str, Any] = {"attribution": []}
    header_text = None
    if nonblank:
        first = lines[nonblank[0]].strip()
        published = parse_publication_time(first, now=None)
        if published is not None:
            fields["published"], fields["published_source"] = published, "header"
            header_text = _without_prefix(first)
            nonblank = nonblank[1:]
    if len(nonblank) >= 2:
        fields["title"] = lines[nonblank[0]].strip()
        nonblank = nonblank[1:]
    body = []
    for index in range(nonblank[0] if nonblank else len(lines), len(lines)):
        line = lines[index]
        stripped = line.strip()
        if not stripped:
            if body:
                body.append(line)
            continue
        if _BOILERPLATE_LINE.match(stripped):
            continue
        credit = _CREDIT_LINE.match(stripped)
        if credit and len(stripped) < 80:
            _add_agencies(fields["attribution"], _AGENCY_SPLIT.split(credit["who"].strip(" .")))
            continue
        if _AGENCY_ONLY_LINE.match(stripped):
            _add_agencies(fields["attribution"], [stripped.strip("().")])
            continue
        if header_text is not None and _without_prefix(stripped) == header_text:
            continue  # the header's timestamp repeated at the foot of the page
        body.append(line)
    while body and not body[-1].strip():
        body.pop()
    text = "\n".join(body)
    dateline = _AGENCY_IN_DATELINE.search(text[:300])
    if dateline:
        _add_agencies(fields["attribution"], [dateline["who"]])
    fields["text"] = text
    return fields


def article_id(*, url: str | None, text: str, source: Mapping[str, Any]) -> str:
    """Stable id: from the canonical URL, else from the normalized content and its source position.

    The position keeps two identical inputs apart (their dedup fields link them), and a message
    read twice from Kafka (same topic, partition, offset) keeps its id.
    """
    if url:
        return "url-" + hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:24]
    position = orjson.dumps(dict(source), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(normalize_text(text).encode("utf-8") + b"\x00" + position)
    return "sha-" + digest.hexdigest()[:24]


def canonical_url(url: str) -> str:
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAM.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def normalize_text(text: str) -> str:
    """Case, Unicode form, quote style and whitespace folded: equal for exact copies of one text."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.translate(_QUOTES)
    return " ".join(folded.split())


_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


_HTML_START = re.compile(r"\s*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?(?:html|head|body|div|span|p|a|br|hr|img|script|style|meta|link|table|tr|td|th|ul|ol|li|"
                       r"h[1-6]|iframe|section|article|header|footer|nav|form|input|button|noscript|figure)\b[^<>]{0,500}>",
                       re.IGNORECASE)


def _looks_like_html(text: str) -> bool:
    """A page's markup rather than its text: an HTML start, or many tags (one "<b>" in prose is fine)."""
    if _HTML_START.match(text):
        return True
    tags = _HTML_TAG.findall(text)
    return len(tags) >= 5 and sum(map(len, tags)) >= 0.05 * len(text)


_JSON_SCALAR = re.compile(r'^(?:null|true|false|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")$')


def _is_json_document(decoded: str) -> bool:
    """An object or array, or a bare JSON value (null, 42, "x"): never an article's raw text."""
    stripped = decoded.strip()
    return stripped.startswith(("{", "[")) or bool(_JSON_SCALAR.match(stripped))


def _without_prefix(line: str) -> str:
    return re.sub(r"^(?:published|updated|posted)\s*:?\s*", "", line.strip(), flags=re.IGNORECASE)


def _add_agencies(attribution: list, names) -> None:
    for name in names:
        name = name.strip()
        if name and name not in attribution:
            attribution.append(name)


def _load_object(decoded: str) -> dict:
    try:
        obj = orjson.loads(decoded)
    except orjson.JSONDecodeError as err:
        raise ArticleParseError(f"invalid JSON: {err}") from None
    except RecursionError:
        raise ArticleParseError("JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise ArticleParseError(f"JSON article must be an object, got {type(obj).__name__}")
    return obj


def _optional_str(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArticleParseError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value.strip() or None


def _fields_from_object(obj: dict, ingested: datetime) -> dict:
    text = obj.get("text", obj.get("body"))
    if not isinstance(text, str):
        raise ArticleParseError("article object needs a string field 'text' or 'body'")
    raw_id = obj.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (str, int))):
        raise ArticleParseError(f"field 'id' must be a string or an integer, got {type(raw_id).__name__}")
    fields: dict[str, Any] = {
        "id": str(raw_id) if raw_id is not None and str(raw_id).strip() else None,
        "text": text,
        "title": _optional_str(obj, "title"),
        "url": _optional_str(obj, "url"),
        "language": _optional_str(obj, "language"),
        "attribution": [],
    }
    publisher = obj.get("source")
    if isinstance(publisher, str) and publisher.strip():
        fields["attribution"].append(publisher.strip())
    raw_published = obj.get("published_at")
    if raw_published is not None:
        if isinstance(raw_published, bool) or not isinstance(raw_published, (str, int, float)):
            raise ArticleParseError(f"field 'published_at' must be a string or a number, got {type(raw_published).__name__}")
        published = parse_publication_time(raw_published, now=ingested)
        if published is not None:
            fields["published"], fields["published_source"] = published, "field"
    return fields


def _fields_from_page(decoded: str) -> dict:
    return split_raw_page(decoded)
