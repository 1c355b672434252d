import json
from dataclasses import replace
from pathlib import Path

import pytest

from transforms.dedup import DEFAULT_HORIZON_SECONDS, DedupConfig, content_key
from transforms.dedup.transform import DeduplicateArticles
from transforms.dedup.sketch import (
    Sketch,
    SketchParams,
    analyze,
    band_keys,
    compare,
    is_duplicate,
    minhash_signature,
    shingle_hashes,
    words,
)
from transforms.records import Article

SEEDS = Path(__file__).resolve().parents[3] / "seeds" / "wikinews"
PARAMS = SketchParams()
T0 = 1_750_000_000.0

FOOTER = ("Copyright 2008 The Associated Press. All rights reserved. This material may not be published, broadcast, "
          "rewritten or redistributed. Sign up for our daily newsletter to get the top stories delivered to your inbox "
          "every morning. Follow us on Twitter and Facebook for breaking news and analysis. Our journalism depends on "
          "readers like you: subscribe today for unlimited access to every story, the digital edition and the archive.")


def seed_texts(folder: str) -> list[str]:
    return [json.loads(p.read_text())["text"] for p in sorted((SEEDS / folder).glob("*.json"))]


@pytest.fixture(scope="module")
def airbus():
    texts = seed_texts("airbus")
    if len(texts) < 5:
        pytest.skip("seeds/wikinews/airbus is not populated")
    return texts


def article(id_, text, ordinal, time=T0):
    return Article(id=id_, text=text, title=None, url=None, published_at="2008-01-01T00:00:00Z",
                   published_at_offset=None, published_at_source="field", ingested_at="2026-01-01T00:00:00Z",
                   ingest_time=time, attribution=(), language="en", source={"test": ordinal}, ordinal=ordinal)


def first_sentences(text: str, share: float) -> str:
    sentences = text.split(". ")
    return ". ".join(sentences[:max(1, round(len(sentences) * share))])


def sim(a: str, b: str):
    return compare(analyze(a, PARAMS).sketch, analyze(b, PARAMS).sketch, PARAMS)


# ---- pure functions -------------------------------------------------------------------------


def test_content_key_ignores_case_quotes_and_layout():
    assert content_key("The \u201cquick\u201d  fox\n\njumps") == content_key('the "quick" fox jumps')
    assert content_key("the quick fox") != content_key("the quick dog")


def test_words_drop_punctuation():
    assert words("Boeing's 787, delayed; again!") == ["boeing", "s", "787", "delayed", "again"]


def test_shingles_are_deterministic_and_short_texts_get_one():
    tokens = words("one two three four five")
    first, second = shingle_hashes(tokens, 3), shingle_hashes(list(tokens), 3)
    assert len(first) == 3 and (first == second).all()
    assert len(shingle_hashes(["alone", "here"], 3)) == 1
    assert len(shingle_hashes([], 3)) == 0


def test_signature_and_bands_depend_only_on_the_shingle_set():
    tokens = words("a b c d e f g h i j k")
    shingles = shingle_hashes(tokens, 3)
    sig = minhash_signature(shingles, PARAMS)
    assert len(sig) == PARAMS.num_perm
    assert (sig == minhash_signature(shingles[::-1].copy(), PARAMS)).all()
    assert len(band_keys(sig, PARAMS)) == PARAMS.bands
    assert band_keys(sig, PARAMS) == band_keys(minhash_signature(shingles, PARAMS), PARAMS)


def test_sketch_round_trips_through_bytes(airbus):
    sketch = analyze(airbus[0], PARAMS).sketch
    data = sketch.to_bytes()
    assert Sketch.from_bytes(data) == sketch
    assert len(data) <= 10 + 4 * (PARAMS.bottom_k + PARAMS.lead_shingles + PARAMS.max_numbers)


def test_identical_texts_compare_as_one(airbus):
    s = sim(airbus[0], airbus[0])
    assert s.containment == 1.0 and s.jaccard == 1.0 and s.lead == 1.0


def test_containment_survives_cutting_the_last_half(airbus):
    s = sim(airbus[0], first_sentences(airbus[0], 0.5))
    assert s.containment > 0.95
    assert s.jaccard < 0.8
    assert is_duplicate(s, PARAMS)


def test_dateline_footer_and_local_sentence_keep_a_copy(airbus):
    copy = "TOULOUSE, France (AP) \u2014 " + airbus[1] + " Local officials said they were watching closely.\n\n" + FOOTER
    assert is_duplicate(sim(airbus[1], copy), PARAMS)


def test_distinct_stories_of_one_folder_are_not_duplicates(airbus):
    for i, a in enumerate(airbus):
        for b in airbus[i + 1:]:
            assert not is_duplicate(sim(a, b), PARAMS)


def test_short_articles_sharing_only_a_long_footer_are_not_duplicates(airbus):
    a = " ".join(airbus[2].split()[:50]) + "\n\n" + FOOTER
    b = " ".join(airbus[3].split()[:50]) + "\n\n" + FOOTER
    s = sim(a, b)
    assert s.containment > 0.4  # the footer alone is a large share of each
    assert not is_duplicate(s, PARAMS)


def test_templated_reports_with_other_figures_are_not_duplicates():
    template = ("Stocks {0} on Monday as investors weighed fresh data. The Dow Jones industrial average gained {1} points, "
                "or {2} percent, to {3}. The Standard & Poor's 500 index rose {4} points to {5}, and the Nasdaq "
                "composite index closed at {6}. Oil climbed {7} dollars to {8} dollars a barrel.")
    a = template.format("rose", "112.31", "0.92", "12,331.60", "10.02", "1,363.61", "2,744.81", "1.12", "91.37")
    b = template.format("rose", "57.86", "0.45", "12,979.40", "4.65", "1,401.22", "2,811.07", "0.48", "88.10")
    assert sim(a, b).containment > 0.4
    assert not is_duplicate(sim(a, b), PARAMS)


def test_params_are_validated():
    with pytest.raises(ValueError):
        SketchParams(bands=0)
    with pytest.raises(ValueError):
        SketchParams(min_containment=1.5)
    with pytest.raises(ValueError):
        DeduplicateArticles(DedupConfig(horizon_seconds=0))
    assert DedupConfig().horizon_seconds == DEFAULT_HORIZON_SECONDS == 7 * 24 * 3600


# ---- the transform --------------------------------------------------------------------------


def run_dedup(articles, expect, config=DedupConfig()):
    """Label ``articles`` (stamped with their ingest time) on the FnApiRunner; ``expect(id -> Dedup)`` asserts."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that
    from apache_beam.transforms.window import TimestampedValue

    count = len(articles)

    def check(labelled):
        assert len(labelled) == count
        expect({a.id: a.dedup for a in labelled})

    with TestPipeline(runner="FnApiRunner") as p:
        labelled = (p | beam.Create(articles, reshuffle=False)
                    | beam.Map(lambda a: TimestampedValue(a, a.ingest_time))
                    | DeduplicateArticles(config))
        assert_that(labelled, check)


def test_transform_labels_originals_exact_and_near_copies(airbus):
    original, other = airbus[0], airbus[4]
    near = "PARIS (AFP) \u2014 " + first_sentences(original, 0.6) + "\n\n" + FOOTER
    articles = [
        article("a", original, 1),
        article("b", other, 2),
        article("a-exact", original.upper().replace(" ", "  "), 3),
        article("a-near", near, 4),
        article("b-again", other, 5),
    ]

    def expect(labels):
        assert (labels["a"].status, labels["a"].duplicate_of, labels["a"].cluster_id) == ("original", None, "a")
        assert labels["a"].similarity is None
        assert labels["b"].status == "original"
        assert (labels["a-exact"].status, labels["a-exact"].duplicate_of, labels["a-exact"].cluster_id) == \
            ("exact_duplicate", "a", "a")
        assert labels["a-exact"].similarity == 1.0
        assert (labels["a-near"].status, labels["a-near"].duplicate_of, labels["a-near"].cluster_id) == \
            ("near_duplicate", "a", "a")
        assert 0.4 <= labels["a-near"].similarity <= 1.0
        assert (labels["b-again"].status, labels["b-again"].duplicate_of) == ("exact_duplicate", "b")

    run_dedup(articles, expect)


def test_the_first_copy_in_input_order_is_the_original(airbus):
    cut = first_sentences(airbus[0], 0.7)

    def expect(labels):
        assert labels["cut-first"].status == "original"
        assert (labels["full"].status, labels["full"].duplicate_of) == ("near_duplicate", "cut-first")
        assert (labels["cut-again"].status, labels["cut-again"].duplicate_of) == ("exact_duplicate", "cut-first")

    run_dedup([article("cut-first", cut, 1), article("full", airbus[0], 2), article("cut-again", cut, 3)], expect)


def test_distinct_seeds_stay_originals_and_their_cut_copies_find_them(airbus):
    articles = [article(f"s{i}", text, i) for i, text in enumerate(airbus[:10])]
    articles += [article(f"c{i}", first_sentences(text, 0.5), 100 + i) for i, text in enumerate(airbus[:10])]

    def expect(labels):
        for i in range(10):
            assert labels[f"s{i}"].status == "original"
            assert labels[f"c{i}"].duplicate_of == f"s{i}"

    run_dedup(articles, expect)


def test_labels_are_the_same_on_every_run(airbus, tmp_path):
    """Copies of copies in one input: the order key, not the run, decides which is the original."""
    articles = []
    for i, text in enumerate(airbus[:6]):
        articles += [article(f"s{i}", text, 3 * i), article(f"cut{i}", first_sentences(text, 0.5), 3 * i + 1),
                     article(f"again{i}", text, 3 * i + 2)]
    out = str(tmp_path / "labels.jsonl")  # a file: the check runs as a pickled copy inside the pipeline

    def keep(labels):
        with open(out, "a") as handle:
            handle.write(json.dumps(sorted((key, d.status, d.duplicate_of) for key, d in labels.items())) + "\n")

    for _ in range(3):
        run_dedup(articles, keep)
    runs = [[tuple(label) for label in json.loads(line)] for line in open(out)]
    assert len(runs) == 3 and runs[0] == runs[1] == runs[2]
    assert {(key, status, of) for key, status, of in runs[0] if key.startswith("again")} == {
        (f"again{i}", "exact_duplicate", f"s{i}") for i in range(6)}


def test_entries_expire_after_the_horizon_of_ingest_time(airbus):
    articles = [
        article("first", airbus[0], 1, T0),
        article("within", airbus[0], 2, T0 + 50),
        article("after", airbus[0], 3, T0 + 150),
        article("after-copy", airbus[0], 4, T0 + 160),
    ]

    def expect(labels):
        assert labels["within"].duplicate_of == "first"
        assert labels["after"].status == "original"
        assert labels["after-copy"].duplicate_of == "after"

    run_dedup(articles, expect, DedupConfig(horizon_seconds=100))


def test_a_message_read_twice_is_not_its_own_copy(airbus):
    one = article("same", airbus[0], 7)

    def expect(labels):
        assert labels["same"].status == "original"

    run_dedup([one, replace(one, source={"test": "other partition"})], lambda labels: None)
    run_dedup([one], expect)


@pytest.mark.parametrize("records_per_bundle", [1000, 10])
def test_unbounded_source_labels_copies_across_bundles_and_forgets_past_the_horizon(airbus, records_per_bundle):
    """After an unbounded source (event time = base + index seconds), as in the Kafka job. With 10
    records per bundle, "a-copy" (60 s after "a", horizon 100 s) comes six bundles later: the stage's
    first version, on event-time timers, had forgotten "a" by then (the FnApiRunner fired its timers
    right after each bundle) and labelled the copy an original."""
    import apache_beam as beam
    from apache_beam.io.unbounded_source import ReadFromUnboundedSource, UnboundedCountingSource
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    texts = {0: ("a", airbus[0]), 3: ("b", airbus[1]), 60: ("a-copy", airbus[0]),
             250: ("a-late", airbus[0]), 255: ("a-late-copy", first_sentences(airbus[0], 0.5))}

    def to_article(index, timestamp=beam.DoFn.TimestampParam):
        if index in texts:
            yield article(texts[index][0], texts[index][1], index, timestamp.micros / 1e6)

    root = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    labels = (root
              | ReadFromUnboundedSource(UnboundedCountingSource(300), max_records_per_bundle=records_per_bundle)
              | beam.FlatMap(to_article)
              | DeduplicateArticles(DedupConfig(horizon_seconds=100, lateness_seconds=0))
              | beam.Map(lambda a: (a.id, a.dedup.status, a.dedup.duplicate_of)))
    assert_that(labels, equal_to([
        ("a", "original", None), ("b", "original", None), ("a-copy", "exact_duplicate", "a"),
        ("a-late", "original", None), ("a-late-copy", "near_duplicate", "a-late")]))
    result = root.run()
    result.wait_until_finish()
    forgotten = result.metrics().query(MetricsFilter().with_name("forgotten"))["counters"]
    assert sum(c.committed for c in forgotten) == 3  # a, b and a-copy; a-late and its copy are within the horizon


def test_labels_leave_before_an_unbounded_source_ends(airbus, tmp_path):
    """The stage is a linear chain of DoFns (no Flatten, no grouping), so on the FnApiRunner it is
    fused with an unbounded source and each labelled article leaves while the source still reads;
    behind a fusion break nothing would leave before the source's last element (as in the Kafka job)."""
    import apache_beam as beam
    from apache_beam.io.unbounded_source import UnboundedCountingSource
    from apache_beam.options.pipeline_options import PipelineOptions

    log = str(tmp_path / "events.jsonl")  # a file: the DoFns run pickled copies of these closures
    texts = {index: (f"a{index}", airbus[index % 3]) for index in range(0, 40, 4)}

    def note(*event):
        with open(log, "a") as out:
            out.write(json.dumps(event) + "\n")

    def read(index):
        note("read", index)
        return index

    def to_article(index, timestamp=beam.DoFn.TimestampParam):
        if index in texts:
            yield article(texts[index][0], texts[index][1], index, timestamp.micros / 1e6)

    def written(labelled):
        note("labelled", labelled.id, labelled.dedup.status)

    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as root:
        _ = (root
             | beam.io.Read(UnboundedCountingSource(60))
             | "Log" >> beam.Map(read)
             | beam.FlatMap(to_article)
             | DeduplicateArticles(DedupConfig(horizon_seconds=1000))
             | beam.Map(written))
    events = [tuple(json.loads(line)) for line in open(log)]
    last_read = events.index(("read", 59))
    labelled = [(position, event) for position, event in enumerate(events) if event[0] == "labelled"]
    assert len(labelled) == len(texts)
    assert all(position < last_read for position, _ in labelled)
    # Each article leaves before the next source element is read: the chain runs in step with the source.
    for position, event in labelled:
        index = int(event[1][1:])
        assert events.index(("read", index)) < position < events.index(("read", index + 1))
    statuses = {event[1]: event[2] for _, event in labelled}
    assert statuses["a0"] == statuses["a4"] == statuses["a8"] == "original"
    assert statuses["a12"] == "exact_duplicate"


def test_the_stage_is_one_fused_stage_with_its_source_on_the_fn_api_runner():
    import apache_beam as beam
    from apache_beam.io.unbounded_source import UnboundedCountingSource
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    root = beam.Pipeline(runner="FnApiRunner")
    _ = (root | beam.io.Read(UnboundedCountingSource(3))
         | beam.Map(lambda index: article(str(index), "text", index)) | "Dedup" >> DeduplicateArticles())
    _, stages = fn_runner.FnApiRunner().create_stages(root.to_runner_api())
    names = [[t.unique_name for t in stage.transforms] for stage in stages]
    dedup_stages = [n for n in names if any(name.startswith("Dedup/") for name in n)]
    assert len(dedup_stages) == 1
    assert any(name.endswith("ReadUnbounded/Process") for name in dedup_stages[0])
    assert {"Dedup/OneKey", "Dedup/Label"} <= set(dedup_stages[0])


# ---- the index, without a runner ----------------------------------------------------------


def test_the_index_forgets_everything_past_horizon_and_lateness(airbus):
    from transforms.dedup.index import DedupIndex

    index = DedupIndex(DedupConfig(horizon_seconds=100, lateness_seconds=50))
    for i, text in enumerate(airbus[:5]):
        index.label(article(f"s{i}", text, i, T0 + i))
    assert len(index) == 5 and index.bucket_count > 5
    index.advance(T0 + 152)  # past s0..s2 (T0 + 0..2 + 150), not s3, s4
    assert len(index) == 2 and index.counts["forgotten"] == 3
    index.advance(T0 + 200)
    assert len(index) == 0 and index.bucket_count == 0


def test_an_article_behind_the_clock_by_less_than_the_lateness_finds_its_original(airbus):
    from transforms.dedup.index import DedupIndex

    index = DedupIndex(DedupConfig(horizon_seconds=100, lateness_seconds=50))
    index.label(article("first", airbus[0], 1, T0))
    index.label(article("other-partition-ahead", airbus[1], 2, T0 + 140))  # the clock is now 140 s on
    late = index.label(article("late-copy", airbus[0], 3, T0 + 90))  # 90 s after "first": within its horizon
    assert (late.status, late.duplicate_of) == ("exact_duplicate", "first")
    too_late = DedupIndex(DedupConfig(horizon_seconds=100, lateness_seconds=0))
    too_late.label(article("first", airbus[0], 1, T0))
    too_late.label(article("other-partition-ahead", airbus[1], 2, T0 + 140))
    assert too_late.label(article("late-copy", airbus[0], 3, T0 + 90)).status == "original"


def test_a_message_read_again_is_labelled_as_the_first_time_and_remembered_once(airbus):
    from transforms.dedup.index import DedupIndex

    index = DedupIndex(DedupConfig())
    first = article("first", airbus[0], 1)
    copy = article("copy", first_sentences(airbus[0], 0.5), 2)
    assert index.label(first).status == "original"
    labelled = index.label(copy)
    assert (labelled.status, labelled.duplicate_of) == ("near_duplicate", "first")
    assert index.label(copy) == labelled and index.label(first).status == "original"
    assert len(index) == 2 and index.counts["redelivered"] == 2


def test_a_full_bucket_keeps_its_earliest_articles(airbus):
    from transforms.dedup.index import DedupIndex

    index = DedupIndex(DedupConfig(max_bucket=2))
    labels = [index.label(article(f"c{i}", airbus[0], i)) for i in range(4)]
    assert [d.duplicate_of for d in labels] == [None, "c0", "c0", "c0"]
    assert index.counts["full_bucket_skips"] > 0


def test_no_beam_gauges_in_the_pipeline():
    """The FnApiRunner keeps a Beam gauge's value from every bundle (Beam 2.77 has no combiner for
    latest_int64 in ``monitoring_infos.consolidate``): a gauge set per bundle grew the dedup-only soak
    by ~45 KB per bundle, without bound in a job that never ends. Gauges go to Prometheus instead."""
    root = Path(__file__).resolve().parents[3]
    offenders = [str(path.relative_to(root)) for folder in ("transforms", "pipeline")
                 for path in (root / folder).rglob("*.py") if "Metrics.gauge(" in path.read_text()]
    assert offenders == []


def test_distinct_texts_under_one_id_get_derived_ids_until_the_id_is_forgotten():
    from transforms.dedup.index import DedupIndex

    bridge = ("The mayor of Springfield opened a new bridge over the river on Monday, officials said. The bridge "
              "cost twelve million dollars and took three years to build.")
    storm = ("A storm knocked out power to forty thousand homes in the northern counties late on Tuesday night, "
             "the utility company reported on Wednesday morning.")
    index = DedupIndex(DedupConfig(horizon_seconds=100, lateness_seconds=0))

    def seen(id_, text, ordinal, time):
        given = article(id_, text, ordinal, time)
        derived = index.distinct_id(given)
        if derived != given.id:
            given = replace(given, id=derived, given_id=given.id)
        index.label(given)
        return derived

    assert seen("a1", bridge, 1, T0) == "a1"
    derived = seen("a1", storm, 2, T0 + 1)
    assert derived == f"a1~{content_key(storm)[:8]}"
    assert seen("a1", storm + " ", 3, T0 + 2) == derived  # a copy of the second keeps the second's id
    assert seen("a1", bridge, 4, T0 + 3) == "a1"
    assert index.counts["ids_derived"] == 1
    assert seen("a1", storm, 5, T0 + 500) == "a1"  # all forgotten past the horizon: the id is free again
