"""Hostile input (issue 8): no exception escapes the parse, time, event or NLP stage, whatever the bytes.

``HOSTILE`` is the catalogue of bad inputs of the issue; tests/pipeline/test_reliability.py replays it,
interleaved with good articles, through ``news-ingest replay``. Property tests drive the stage functions
with arbitrary bytes and strings (hypothesis); spaCy is loaded once per module.
"""

from __future__ import annotations

import random
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.events import extract_events
from transforms.nlp.transform import _AnnotateBatchFn, default_model_name, load_model
from transforms.parse.article import ArticleParseError, ParseLimits, parse_message
from transforms.parse.pubtime import PublicationTime, parse_publication_time
from transforms.records import DEAD_LETTERS, Article, Enrichment, RawMessage
from transforms.timex import extract_timexes

NOW = 1_790_000_000.0  # 2026-09-21
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ the catalogue


_WIKINEWS = sorted((Path(__file__).resolve().parents[1] / "seeds" / "wikinews").glob("*/*.json"))


def good_article(number: int) -> bytes:
    """A sound article on one topic (Airbus), a distinct story per number: the lead of a different
    Wikinews seed follows one shared sentence, so dedup rightly keeps every one an original
    (a template that changes only a figure and a city would be a near copy)."""
    story = orjson.loads(_WIKINEWS[number % len(_WIKINEWS)].read_bytes())["text"]
    lead = " ".join(re.split(r"(?<=[.!?])\s+", story)[:3])
    return orjson.dumps({
        "id": f"good-{number}",
        "title": f"Airbus chief comments, story {number}",
        "text": f"Airbus chief executive Guillaume Faury spoke about the industry on Monday. {lead}",
        "published_at": "2024-03-12T09:30:00+01:00",
        "source": "Wikinews",
    })


def _entity_text(count: int) -> str:
    rng = random.Random(count)
    people = ("Angela Merkel", "Barack Obama", "Emmanuel Macron", "Xi Jinping", "Narendra Modi", "Olaf Scholz")
    places = ("Paris", "Berlin", "Tokyo", "Nairobi", "Lima", "Oslo", "Delhi", "Ottawa")
    orgs = ("Airbus", "Boeing", "Siemens", "the United Nations", "NATO", "Reuters")
    sentences = [f"{rng.choice(people)} met {rng.choice(orgs)} in {rng.choice(places)} on {rng.randint(1, 28)} May."
                 for _ in range(count // 4)]
    return " ".join(sentences)


_HTML = ("<!DOCTYPE html><html><head><title>Airbus</title><script>var x = 1;</script></head><body>"
         + "<div class='story'><p>Airbus delivered <b>aircraft</b> in <a href='/t'>Toulouse</a>.</p></div>" * 40
         + "</body></html>")
_TRUNCATED = good_article(999)[:90]
_JUNK = bytes(random.Random(8).randrange(256) for _ in range(3000)).replace(b"\n", b" ").replace(b"\r", b" ")

# (name, payload, expected outcome: "dead" (a dead letter), "record" (an enriched record), "either"), as
# one line of a .jsonl file (content kind "json"). Payloads contain no newline (blank lines are not messages).
# From Kafka (kind "auto") a payload that does not start with "{" or "[" is read as a raw page instead.
HOSTILE: list[tuple[str, bytes, str]] = [
    ("empty object", b"{}", "dead"),
    ("empty text", b'{"text": ""}', "dead"),
    ("blank text", b'{"text": "   \\t  "}', "dead"),
    ("JSON null", b"null", "dead"),
    ("JSON empty string", b'""', "dead"),
    ("invalid UTF-8 in JSON", b'{"text": "Airbus caf\xe9 \xff\xfe delivered."}', "dead"),
    ("invalid UTF-8 page", b"\xff\xfe\xfd Airbus delivered planes", "dead"),
    ("binary junk", _JUNK, "dead"),
    ("NUL bytes", b'{"text": "Airbus\x00delivered\x00planes"}', "dead"),
    ("escaped NUL in text", b'{"id": "nul-escaped", "text": "Airbus\\u0000 delivered planes in Toulouse."}', "either"),
    ("lone surrogate", b'{"text": "Airbus \\ud800 delivered."}', "dead"),
    ("truncated JSON", _TRUNCATED, "dead"),
    ("JSON list", b'[{"text": "Airbus delivered planes."}]', "dead"),
    ("JSON number", b"42", "dead"),
    ("JSON true", b"true", "dead"),
    ("text is a number", b'{"text": 42}', "dead"),
    ("text is a list", b'{"text": ["Airbus", "delivered"]}', "dead"),
    ("text is an object", b'{"text": {"body": "Airbus delivered."}}', "dead"),
    ("id is an object", b'{"id": {"x": 1}, "text": "Airbus delivered planes."}', "dead"),
    ("id is a bool", b'{"id": true, "text": "Airbus delivered planes."}', "dead"),
    ("id is huge", b'{"id": 123456789012345678901234567890, "text": "Airbus delivered planes."}', "dead"),
    ("title is a number", b'{"title": 7, "text": "Airbus delivered planes."}', "dead"),
    ("url is a list", b'{"url": ["http://x"], "text": "Airbus delivered planes."}', "dead"),
    ("published_at is an object", b'{"published_at": {"y": 2024}, "text": "Airbus delivered planes."}', "dead"),
    ("source is a number", b'{"id": "source-number", "source": 5, "text": "Airbus delivered planes."}', "record"),
    ("JSON nested 100,000 deep", b"[" * 100_000, "dead"),
    ("article with a field nested 5,000 deep",
     b'{"text": "Airbus delivered planes.", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "dead"),
    ("article with a field nested 500 deep",
     b'{"id": "nested-500", "text": "Airbus delivered planes.", "x": ' + b"[" * 500 + b"]" * 500 + b"}", "record"),
    ("1 MB text", orjson.dumps({"text": "Airbus delivered planes. " * 40_000}), "dead"),
    ("1 MB payload, short text", orjson.dumps({"id": "big-extra", "text": "Airbus delivered planes in Toulouse.",
                                               "junk": "x " * 495_000}), "record"),
    ("2.5 MB payload", orjson.dumps({"text": "Airbus. " * 320_000}), "dead"),
    ("100,000-character word", orjson.dumps({"text": "Airbus said " + "a" * 100_000 + " today."}), "dead"),
    ("100,000 quotes", orjson.dumps({"text": '"' * 100_000}), "dead"),
    ("HTML page as text", orjson.dumps({"text": _HTML}), "dead"),
    ("HTML page raw", _HTML.encode(), "dead"),
    ("far-future date field", orjson.dumps({"id": "future-field", "text": "Airbus delivered planes next year.",
                                            "published_at": "9999-12-31T23:59:59-14:00"}), "record"),
    ("absurd epoch", orjson.dumps({"id": "epoch-huge", "text": "Airbus delivered planes yesterday.",
                                   "published_at": 1e300}), "record"),
    ("negative year", orjson.dumps({"id": "year-negative", "text": "Airbus delivered planes last week.",
                                    "published_at": "-5000-01-01"}), "record"),
    ("year zero", orjson.dumps({"id": "year-zero", "text": "Airbus delivered planes on Monday.",
                                "published_at": "0000-00-00T00:00:00Z"}), "record"),
    ("far-future page header", b"Published 31 Dec 9999 10:00 IST\tAirbus\tAirbus delivered planes next week.", "either"),
    ("thousands of entities", orjson.dumps({"id": "entities-2000", "text": _entity_text(2000)}), "record"),
    ("text of digits", orjson.dumps({"id": "digits", "text": "1 2 3 " * 2000}), "either"),
    ("control characters", orjson.dumps({"id": "controls", "text": "Airbus \x01\x02\x1b[31m delivered \x7f planes."}),
     "either"),
    ("right-to-left and emoji", orjson.dumps({"id": "unicode", "text": "Airbus \u202e delivered \U0001F6EB planes "
                                                                      "\u0645\u0631\u062d\u0628\u0627."}), "record"),
]


def message(payload: bytes, line: int = 1, kind: str = "auto") -> RawMessage:
    return RawMessage(payload, {"file": "hostile.jsonl", "line": line}, NOW, kind, line)


@pytest.mark.parametrize("kind", ["json", "auto"])
@pytest.mark.parametrize("name, payload, expected", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_each_hostile_message_parses_or_is_refused_with_a_reason(name, payload, expected, kind):
    assert b"\n" not in payload
    started = time.perf_counter()
    try:
        article = parse_message(message(payload, kind=kind))
    except ArticleParseError as err:
        assert expected in ("dead", "either") and str(err)
        return
    finally:
        assert time.perf_counter() - started < 2.0
    looks_like_json = payload.lstrip().startswith((b"{", b"["))
    assert expected in ("record", "either") or (kind == "auto" and not looks_like_json), f"{name} should be refused"
    assert article.text.strip() and article.published_at.endswith("Z")
    assert "1900" <= article.published_at[:4] <= "2026"


def test_raw_pages_of_markup_are_refused_and_future_headers_ignored():
    with pytest.raises(ArticleParseError, match="HTML"):
        parse_message(message(_HTML.encode(), kind="text"))
    page = parse_message(message(b"Published 31 Dec 9999 10:00 IST\nAirbus\nAirbus delivered planes.", kind="text"))
    assert page.published_at_source == "ingested" and page.text == "Airbus delivered planes."


def test_dates_that_cannot_be_publication_times_fall_back_to_the_ingest_time():
    for payload in (orjson.dumps({"text": "x", "published_at": "9999-12-31T23:59:59-14:00"}),
                    orjson.dumps({"text": "x", "published_at": 1e300}),
                    b"Published 31 Dec 9999 10:00 IST\nTitle\nAirbus delivered planes."):
        article = parse_message(message(payload))
        assert article.published_at_source == "ingested", payload[:60]


def test_limits_are_dead_letters_with_the_limit_in_the_reason():
    limits = ParseLimits(max_payload_bytes=1000, max_text_chars=100, max_word_chars=20)
    for payload, reason in ((b'{"text": "' + b"a " * 600 + b'"}', "bytes is over the limit of 1000"),
                            (b'{"text": "' + b"a " * 60 + b'"}', "characters is over the limit of 100"),
                            (b'{"text": "a ' + b"b" * 21 + b'"}', "word of 21 characters is over the limit of 20")):
        with pytest.raises(ArticleParseError, match=reason):
            parse_message(message(payload), limits)


def test_a_few_tags_in_prose_are_not_html():
    article = parse_message(message(orjson.dumps({"text": "The <p> tag and <b>bold</b> text are HTML, said Airbus."})))
    assert "<p>" in article.text


# ------------------------------------------------------------------ properties: parse


_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
_JSON_VALUES = st.recursive(_JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                            | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_ARTICLE_KEYS = ("id", "url", "title", "text", "body", "published_at", "source", "language")
_ARTICLE_OBJECTS = st.dictionaries(st.sampled_from(_ARTICLE_KEYS) | st.text(max_size=6), _JSON_VALUES, max_size=8)


def _parse_or_refuse(payload: bytes, kind: str = "auto") -> Article | None:
    try:
        article = parse_message(message(payload, kind=kind))
    except ArticleParseError as err:
        assert str(err)
        return None
    assert isinstance(article.text, str) and article.text.strip()
    assert article.id and article.published_at.endswith("Z")
    return article


@_SETTINGS
@given(payload=st.binary(max_size=3000), kind=st.sampled_from(["auto", "json", "text"]))
def test_arbitrary_bytes_parse_or_are_refused(payload, kind):
    _parse_or_refuse(payload, kind)


@_SETTINGS
@given(text=st.text(max_size=3000), kind=st.sampled_from(["auto", "json", "text"]))
def test_arbitrary_strings_parse_or_are_refused(text, kind):
    _parse_or_refuse(text.encode("utf-8", "surrogatepass"), kind)


@_SETTINGS
@given(obj=_ARTICLE_OBJECTS)
def test_arbitrary_article_objects_parse_or_are_refused(obj):
    try:
        payload = orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):  # e.g. surrogates in keys: not sendable as JSON anyway
        return
    _parse_or_refuse(payload, "json")


# ------------------------------------------------------------------ properties: time


@_SETTINGS
@given(value=st.text(max_size=300) | st.integers() | st.floats() | st.none() | st.booleans(),
       now=st.none() | st.datetimes(timezones=st.just(timezone.utc)) | st.datetimes())
def test_publication_time_never_raises(value, now):
    parsed = parse_publication_time(value, now=now)
    assert parsed is None or (parsed.utc.tzinfo is not None and parsed.utc.year >= 1900)


_WORDS = ("Monday", "last", "next", "year", "week", "ago", "on", "in", "the", "3", "2024", "12/31/99", "31.12.",
          "January", "Dec", "noon", "10:30", "p.m.", "tomorrow", "decade", "1990s", "spring", "fiscal", "Q3", "-", ",",
          "since", "until", "early", "late", "days", "hours", "said", "Airbus", "delivered", "planes", "by", "of",
          "9999", "0000", "99999999", "T", "Z", "+14:00", "2024-02-30", "29 February", "century", "BC", "'", '"')
_TEXTS = (st.lists(st.sampled_from(_WORDS) | st.text(max_size=8), max_size=60).map(" ".join)
          | st.text(max_size=400))
_ANCHORS = st.builds(
    PublicationTime,
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31, 23, 59),
                 timezones=st.just(timezone.utc)),
    st.none() | st.integers(min_value=-14 * 60, max_value=14 * 60))


@pytest.fixture(scope="module")
def nlp():
    return load_model(default_model_name())


def _check_spans(items: list[dict], text: str) -> None:
    for item in items:
        assert 0 <= item["start"] <= item["end"] <= len(text)
        assert text[item["start"]:item["end"]] == item["text"]


@_SETTINGS
@given(text=_TEXTS, anchor=_ANCHORS)
def test_timexes_and_events_never_raise(nlp, text, anchor):
    with nlp.memory_zone():
        doc = nlp(text)
        timexes = extract_timexes(doc, anchor)
        assert isinstance(timexes, list)
        _check_spans(timexes, text)
        events = extract_events(doc, timexes, anchor)
    assert isinstance(events, list)
    for event in events:
        _check_spans([event["trigger"]] + [event[r] for r in ("actor", "target") if event.get(r)], text)


# Malformed timexes as events documents them: any field missing or of any JSON type, except that
# "type" is a string or absent (an unhashable "type" raises TypeError in events.context.attach_timexes).
_MALFORMED_TIMEX = st.fixed_dictionaries({}, optional={
    "text": _JSON_VALUES, "value": _JSON_VALUES, "start": _JSON_VALUES, "end": _JSON_VALUES,
    "type": st.sampled_from(["DATE", "TIME", "DURATION", "SET", ""]) | st.text(max_size=5)})


@_SETTINGS
@given(text=_TEXTS, timexes=st.lists(_MALFORMED_TIMEX | _JSON_VALUES, max_size=4), anchor=_ANCHORS)
def test_events_survive_malformed_timexes(nlp, text, timexes, anchor):
    with nlp.memory_zone():
        assert isinstance(extract_events(nlp(text), timexes, anchor), list)


# ------------------------------------------------------------------ the NLP stage as a whole


def _article(text: str, number: int = 0, published_at: str = "2024-03-12T08:30:00Z") -> Article:
    return Article(id=f"a-{number}", text=text, title=None, url=None, published_at=published_at,
                   published_at_offset=None, published_at_source="field", ingested_at="2026-01-01T00:00:00Z",
                   ingest_time=NOW, attribution=(), language="en", source={"file": "t", "line": number})


@pytest.fixture(scope="module")
def annotate(nlp):
    fn = _AnnotateBatchFn(default_model_name(), batch_size=8, max_tokens=400)
    fn._nlp = nlp  # the module's model: setup() would load it again
    return fn


def _split(outputs):
    records = [o for o in outputs if not hasattr(o, "tag")]
    dead = [o.value for o in outputs if getattr(o, "tag", None) == DEAD_LETTERS]
    return records, dead


@_SETTINGS
@given(texts=st.lists(_TEXTS.filter(str.strip), min_size=1, max_size=4), anchor=_ANCHORS)
def test_the_nlp_stage_accounts_for_every_article(annotate, texts, anchor):
    from transforms.parse.pubtime import format_utc

    published = format_utc(anchor.utc)
    batch = [_article(text, i, published) for i, text in enumerate(texts)]
    records, dead = _split(list(annotate.process(batch)))
    assert sorted([a.id for a, _ in records] + [f"a-{d.source['line']}" for d in dead]) == \
        sorted(a.id for a in batch)
    assert all(isinstance(e, Enrichment) for _, e in records)


def test_too_many_tokens_is_a_dead_letter_and_the_batch_goes_on(annotate):
    batch = [_article("Airbus delivered planes.", 1), _article("1 " * 1000, 2), _article("Boeing did not.", 3)]
    records, dead = _split(list(annotate.process(batch)))
    assert [a.id for a, _ in records] == ["a-1", "a-3"]
    (letter,) = dead
    assert letter.stage == "nlp" and letter.error_type == "LimitExceeded"
    assert "1000 tokens is over the limit of 400" in letter.message


def test_an_anchor_at_the_end_of_the_calendar_does_not_crash_the_stage(annotate):
    batch = [_article("Airbus will deliver planes next year and in the next century.", 1, "9999-12-31T23:59:59Z")]
    records, dead = _split(list(annotate.process(batch)))
    assert len(records) + len(dead) == 1
