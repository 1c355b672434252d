import time
from pathlib import Path

import orjson
import pytest

from transforms.parse.article import ArticleParseError, article_id, canonical_url, normalize_text, parse_message, split_raw_page
from transforms.records import RawMessage

SEED = Path(__file__).resolve().parents[3] / "seeds" / "000_8e0deb087ab3057e.txt"
NOW = 1_750_000_000.0


def message(payload, kind="auto", source=None):
    if isinstance(payload, (dict, list)):
        payload = orjson.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return RawMessage(payload, source or {"file": "t.jsonl", "line": 1}, NOW, kind)


@pytest.fixture(scope="module")
def seed():
    return parse_message(RawMessage(SEED.read_bytes(), {"file": "seeds/" + SEED.name}, NOW, "text"))


def test_seed_header_is_the_publication_time_in_utc(seed):
    assert seed.published_at == "2020-08-17T01:29:00Z"
    assert seed.published_at_offset == "+05:30"
    assert seed.published_at_source == "header"


def test_seed_title_and_attribution(seed):
    assert seed.title == "Embattled Belarus President calls for Russian military assistance, says 'we will perish'"
    assert seed.attribution == ("AP",)


def test_seed_boilerplate_lines_are_gone_and_prose_is_kept(seed):
    lines = seed.text.split("\n")
    assert "Advertisement" not in lines
    assert not any(line.startswith("Inputs:") for line in lines)
    assert "IST, August 17th 2020" not in seed.text
    assert lines[0].startswith("The embattled President of Belarus, Alexander Lukashenko raised")
    assert lines[-1].endswith("called it a rigged election.")
    assert "“we will perish”." in seed.text  # quotes kept as the article wrote them
    assert "NATO spokesperson rejected claims" in lines  # a subheading is prose, not boilerplate


def test_seed_repeated_lede_is_kept(seed):
    assert seed.text.count("The embattled President of Belarus, Alexander Lukashenko") == 2


def test_page_without_header_uses_ingest_time():
    article = parse_message(message("A title\nBody line one.\nBody line two.", kind="text"))
    assert article.title == "A title"
    assert article.text == "Body line one.\nBody line two."
    assert article.published_at_source == "ingested"
    assert article.published_at == article.ingested_at


def test_credit_forms_become_attribution():
    page = "Published 10:00 GMT, March 3rd 2021\nTitle\nLONDON (Reuters) - Something happened.\nAFP\n"
    fields = split_raw_page(page)
    assert sorted(fields["attribution"]) == ["AFP", "Reuters"]
    assert fields["text"] == "LONDON (Reuters) - Something happened."


@pytest.mark.parametrize("value, expected, offset", [
    ("2020-08-17T06:59:00+05:30", "2020-08-17T01:29:00Z", "+05:30"),
    ("2020-08-17T01:29:00Z", "2020-08-17T01:29:00Z", "+00:00"),
    ("2020-08-17T01:29:00", "2020-08-17T01:29:00Z", None),
    ("Mon, 17 Aug 2020 06:59:00 +0530", "2020-08-17T01:29:00Z", "+05:30"),
    (1597627740, "2020-08-17T01:29:00Z", "+00:00"),
    (1597627740.0, "2020-08-17T01:29:00Z", "+00:00"),
    ("1597627740", "2020-08-17T01:29:00Z", "+00:00"),
])
def test_object_published_at_formats(value, expected, offset):
    article = parse_message(message({"text": "Body.", "published_at": value}))
    assert (article.published_at, article.published_at_offset, article.published_at_source) == (expected, offset, "field")


def test_object_fields_and_body_alias():
    article = parse_message(message({"id": 42, "url": "https://Example.com/a/?utm_source=x", "title": "T", "body": "B."}))
    assert (article.id, article.title, article.text) == ("42", "T", "B.")


def test_unparseable_published_at_falls_back_to_ingest_time():
    article = parse_message(message({"text": "Body.", "published_at": "not a date"}))
    assert article.published_at_source == "ingested"


@pytest.mark.parametrize("payload, reason", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"\xff\xfe\x00junk", "UTF-8"),
    (b"{\"text\": \"unterminated", "invalid JSON"),
    (b"[1, 2]", "must be an object"),
    (b"null", "must be an object"),
    (b" 42\n", "must be an object"),
    (b'"just a string"', "must be an object"),
    (b"{\"text\": 5}", "'text' or 'body'"),
    (b"{\"text\": \"x\", \"title\": [1]}", "'title' must be a string"),
    (b"{\"text\": \"x\", \"id\": {\"a\": 1}}", "'id' must be"),
    (b"{\"text\": \"   \"}", "no body text"),
    (b"a\x00b", "NUL"),
    (b"[" * 5000 + b"]" * 5000, "JSON"),
])
def test_malformed_messages_raise_a_parse_error_with_a_reason(payload, reason):
    with pytest.raises(ArticleParseError, match=reason):
        parse_message(message(payload))


def test_text_over_the_limit_is_rejected():
    from transforms.parse.article import ParseLimits

    with pytest.raises(ArticleParseError, match="over the limit"):
        parse_message(message({"text": "x" * 101}), ParseLimits(max_text_chars=100))


def test_id_rule():
    source_a, source_b = {"file": "a.jsonl", "line": 1}, {"file": "a.jsonl", "line": 2}
    assert article_id(url=None, text="Same text", source=source_a) != article_id(url=None, text="Same text", source=source_b)
    assert article_id(url=None, text="Same  TEXT", source=source_a) == article_id(url=None, text="same text", source=source_a)
    assert article_id(url="https://EXAMPLE.com/x/?utm_campaign=1#top", text="a", source=source_a) == \
        article_id(url="https://example.com/x", text="b", source=source_b)
    kafka = {"topic": "t", "partition": 0, "offset": 7}
    assert article_id(url=None, text="x", source=kafka) == article_id(url=None, text="x", source=dict(kafka))


def test_canonical_url_keeps_meaningful_query():
    assert canonical_url("HTTPS://Example.com/story?id=5&utm_source=tw") == "https://example.com/story?id=5"


def test_normalize_text_folds_case_quotes_and_space():
    assert normalize_text("“Hello”\n  World") == normalize_text('"hello" world')


def test_parse_articles_transform_splits_articles_and_dead_letters():
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from transforms.parse.transform import ParseArticles

    unreadable = RawMessage(b"", {"file": "fifo.jsonl", "line": 0}, NOW, read_error="a FIFO, not a regular file")
    messages = [message({"id": "a", "text": "Fine."}), message(b"{broken", source={"file": "x", "line": 2}), unreadable]
    with TestPipeline(runner="FnApiRunner") as p:
        parsed = p | beam.Create(messages) | ParseArticles()
        assert_that(parsed.articles | "Ids" >> beam.Map(lambda a: a.id), equal_to(["a"]), label="articles")
        assert_that(parsed.dead_letters | "Where" >> beam.Map(lambda d: (d.stage, d.source["line"], d.reason.value)),
                    equal_to([("parse", 2, "invalid_json"), ("read", 0, "unreadable_file")]), label="dead letters")
