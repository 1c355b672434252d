"""transforms/metrics.py: the helpers stages call, their counts, and the dead-letter reason classes."""

import os

import pytest

from transforms import metrics
from transforms.parse.article import ParseLimits, parse_message
from transforms.records import REASONS_BY_STAGE, Article, DeadLetter, DeadLetterReason, Dedup, RawMessage


@pytest.fixture(autouse=True)
def fresh_metrics(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    metrics.reset()
    yield
    metrics.reset()


def value(name, **labels):
    found = metrics.registry().get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_counters_count_by_label():
    metrics.count_read("news")
    metrics.count_read("news", 2)
    metrics.count_read("other")
    metrics.count_duplicate("exact")
    metrics.count_duplicate("near")
    metrics.count_duplicate("near")
    metrics.count_dead_letter("parse", DeadLetterReason.INVALID_JSON)
    assert value("news_ingest_articles_read_total", topic="news") == 3
    assert value("news_ingest_articles_read_total", topic="other") == 1
    assert value("news_ingest_duplicates_total", kind="exact") == 1
    assert value("news_ingest_duplicates_total", kind="near") == 2
    assert value("news_ingest_dead_letters_total", stage="parse", reason="invalid_json") == 1


def test_count_written_observes_latency_and_last_processed():
    metrics.count_written("kafka", [1000.0, 1002.5, None], now=1003.0)
    assert value("news_ingest_articles_written_total", sink="kafka") == 3
    assert value("news_ingest_end_to_end_latency_seconds_count") == 2  # the unknown one has no latency
    assert value("news_ingest_end_to_end_latency_seconds_sum") == pytest.approx(3.0 + 0.5)
    assert value("news_ingest_end_to_end_latency_seconds_bucket", le="0.5") == 1
    assert value("news_ingest_end_to_end_latency_seconds_bucket", le="2.5") == 1
    assert value("news_ingest_end_to_end_latency_seconds_bucket", le="5.0") == 2
    assert value("news_ingest_last_processed_timestamp_seconds") == 1003.0
    metrics.count_written("kafka", [], now=2000.0)  # nothing written: nothing changes
    assert value("news_ingest_last_processed_timestamp_seconds") == 1003.0


def test_stage_batch_is_split_evenly():
    metrics.observe_stage_batch("nlp", 0.4, 4)
    metrics.observe_stage("parse", 0.0003)
    assert value("news_ingest_stage_duration_seconds_count", stage="nlp") == 4
    assert value("news_ingest_stage_duration_seconds_sum", stage="nlp") == pytest.approx(0.4)
    assert value("news_ingest_stage_duration_seconds_bucket", stage="nlp", le="0.1") == 4
    assert value("news_ingest_stage_duration_seconds_bucket", stage="nlp", le="0.05") == 0
    assert value("news_ingest_stage_duration_seconds_bucket", stage="parse", le="0.0005") == 1
    assert value("news_ingest_stage_duration_seconds_bucket", stage="parse", le="0.00025") == 0
    metrics.observe_stage_batch("nlp", 1.0, 0)  # an empty batch observes nothing
    assert value("news_ingest_stage_duration_seconds_count", stage="nlp") == 4


def test_timed_call_observes_also_when_it_raises():
    assert metrics.timed_call("timex", lambda a, b=0: a + b, 1, b=2) == 3
    with pytest.raises(ZeroDivisionError):
        metrics.timed_call("timex", lambda: 1 / 0)
    assert value("news_ingest_stage_duration_seconds_count", stage="timex") == 2


def test_timed_iter_counts_each_item_once_exhausted_or_closed():
    items = list(metrics.timed_iter("nlp", iter("abc")))
    assert items == ["a", "b", "c"]
    assert value("news_ingest_stage_duration_seconds_count", stage="nlp") == 3
    # zip stops at the shorter input and never exhausts the timed one: closing it observes what it gave
    pairs = list(zip("xy", metrics.timed_iter("events", iter("xyz"))))
    assert len(pairs) == 2
    import gc

    gc.collect()
    assert value("news_ingest_stage_duration_seconds_count", stage="events") == 2


def test_timed_batch_call():
    assert metrics.timed_batch_call("sink", 3, max, 1, 5) == 5
    assert value("news_ingest_stage_duration_seconds_count", stage="sink") == 3


def test_encode_and_count_counts_records_not_dead_letters():
    record = {"id": "a", "ingested_at": "2020-01-01T00:00:00Z"}
    assert metrics.encode_and_count(record, lambda r: r["id"], "file") == "a"
    assert metrics.encode_and_count(DeadLetter("parse", "E", "m", b"", {}, DeadLetterReason.EMPTY), lambda d: "dl", "file") == "dl"
    assert value("news_ingest_articles_written_total", sink="file") == 1
    assert value("news_ingest_stage_duration_seconds_count", stage="sink") == 1
    assert value("news_ingest_end_to_end_latency_seconds_count") == 1


def test_stage_timer_context():
    with metrics.stage_timer("sink", count=2):
        pass
    assert value("news_ingest_stage_duration_seconds_count", stage="sink") == 2


def test_pass_through_steps_count_and_return_the_element():
    message = RawMessage(b"{}", {"topic": "news", "partition": 0, "offset": 7}, 0.0)
    assert metrics.read_counted(message) is message
    assert metrics.read_counted(RawMessage(b"x", {"file": "a.txt"}, 0.0)).payload == b"x"
    assert value("news_ingest_articles_read_total", topic="news") == 1
    assert value("news_ingest_articles_read_total", topic="files") == 1

    article = Article("a", "t", None, None, "2020-01-01T00:00:00Z", None, "field", "2020-01-01T00:00:00Z", 0.0,
                      (), "en", {"file": "a"})
    for status in ("original", "exact_duplicate", "near_duplicate", "near_duplicate"):
        labelled = Article(**{**article.__dict__, "dedup": Dedup(status, "b", "b", 0.9)})
        assert metrics.duplicate_counted(labelled) is labelled
    assert metrics.duplicate_counted(article) is article  # no dedup field at all
    assert value("news_ingest_duplicates_total", kind="exact") == 1
    assert value("news_ingest_duplicates_total", kind="near") == 2

    dead = DeadLetter("nlp", "ValueError", "boom", b"", {}, DeadLetterReason.UNEXPECTED_ERROR)
    assert metrics.dead_letter_counted(dead) is dead
    assert value("news_ingest_dead_letters_total", stage="nlp", reason="unexpected_error") == 1


def test_a_failing_helper_never_raises(monkeypatch, caplog):
    class Broken:
        def labels(self, *_):
            raise RuntimeError("registry broken")

    current = metrics._metrics()
    monkeypatch.setattr(current, "read", Broken())
    metrics.count_read("news")  # logged, not raised
    metrics.count_read("news")
    assert sum("count_read failed" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("payload, reason", [
    (b"x" * 101, "payload_too_large"),
    (b"\xff\xfe bad", "not_utf8"),
    (b"a\x00b", "nul_bytes"),
    (b"   \n", "empty"),
    (b"{not json", "invalid_json"),
    (b"[" * 5000 + b"]" * 5000, "invalid_json"),  # nested too deeply
    (b"[1, 2]", "not_an_object"),
    (b'{"title": "no body"}', "missing_text"),
    (b'{"text": "body", "title": 5}', "bad_field"),
    (b'{"text": "   "}', "no_text"),
    (b'{"text": "' + b"y" * 60 + b'"}', "text_too_large"),
    (b'{"text": "a ' + b"w" * 30 + b'"}', "word_too_large"),
    (b"<html> <body> <p> markup </p> </body> </html>", "html_markup"),
])
def test_parse_errors_carry_their_reason_class(payload, reason):
    """Real parse errors: each raise site names its reason, so no parse error lands in a catch-all."""
    from transforms.parse.article import ArticleParseError

    limits = ParseLimits(max_payload_bytes=100 if reason == "payload_too_large" else 10_000_000, max_text_chars=50,
                         max_word_chars=20)
    with pytest.raises(ArticleParseError) as caught:
        parse_message(RawMessage(payload, {"topic": "t", "partition": 0, "offset": 1}, 0.0), limits)
    assert caught.value.reason.value == reason
    dead = DeadLetter("parse", "ArticleParseError", str(caught.value), payload, {}, caught.value.reason)
    assert metrics.dead_letter_reason(dead) == reason


def test_parse_errors_survive_pickling_with_their_reason():
    import pickle

    from transforms.parse.article import ArticleParseError

    error = pickle.loads(pickle.dumps(ArticleParseError(DeadLetterReason.EMPTY, "payload is empty")))
    assert (error.reason, str(error)) == (DeadLetterReason.EMPTY, "payload is empty")


def test_every_counter_of_a_closed_label_set_is_exported_at_zero_from_the_start():
    def exported(name, **labels):
        return metrics.registry().get_sample_value(name, labels)  # None when the series does not exist

    for stage, reasons in REASONS_BY_STAGE.items():
        for reason in reasons:
            assert exported("news_ingest_dead_letters_total", stage=stage, reason=reason.value) == 0
    for kind in metrics.DUPLICATE_KINDS:
        assert exported("news_ingest_duplicates_total", kind=kind) == 0
    for sink in metrics.SINKS:
        assert exported("news_ingest_articles_written_total", sink=sink) == 0
    assert set(REASONS_BY_STAGE["parse"]) >= {r for r in DeadLetterReason if r.name not in
                                              ("UNREADABLE_FILE", "LIMIT_EXCEEDED", "RECORD_TOO_LARGE")}
    assert REASONS_BY_STAGE["read"] == (DeadLetterReason.UNREADABLE_FILE,)


def test_ingest_time_of_record():
    assert metrics.ingest_time_of({"ingested_at": "2020-08-17T01:29:00Z"}) == 1597627740.0
    assert metrics.ingest_time_of({"ingested_at": "2020-08-17T01:29:00.250Z"}) == 1597627740.25
    assert metrics.ingest_time_of({"ingested_at": "yesterday"}) is None
    assert metrics.ingest_time_of({}) is None


def test_multiprocess_files_when_the_folder_is_set(tmp_path, monkeypatch):
    """After reset() with PROMETHEUS_MULTIPROC_DIR set, the helpers write this process's file there."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    metrics.count_read("before")  # an object made before the folder existed must not be reused
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.reset()
    metrics.count_read("news", 5)
    metrics.count_written("file", [None], now=42.0)
    assert f"counter_{os.getpid()}.db" in os.listdir(tmp_path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value("news_ingest_articles_read_total", {"topic": "news"}) == 5
    assert registry.get_sample_value("news_ingest_articles_read_total", {"topic": "before"}) is None
    assert registry.get_sample_value("news_ingest_last_processed_timestamp_seconds") == 42.0
