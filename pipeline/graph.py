"""The one pipeline graph: source -> parse -> dedup -> nlp (with extract) -> sinks, for replay and for the Kafka job."""

from __future__ import annotations

from importlib import metadata

import apache_beam as beam

from pipeline.config import PipelineConfig
from transforms import metrics
from transforms.dedup.transform import DeduplicateArticles
from transforms.nlp.transform import AnnotateArticles
from transforms.parse.transform import ParseArticles
from transforms.records import Enrichment, build_record

__all__ = ["pipeline_info", "build_graph"]


def pipeline_info(config: PipelineConfig) -> dict:
    try:
        version = metadata.version("news-ingest")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return {"version": version, "spacy_model": config.spacy_model}


def _is_original(article) -> bool:
    return article.dedup is None or article.dedup.status == "original"


def build_graph(root, source: beam.PTransform, record_sink: beam.PTransform,
                dead_letter_sink: beam.PTransform, config: PipelineConfig, *, fuse_sinks: bool = False) -> None:
    """Wire the stages between ``source`` (-> RawMessage) and the two sinks.

    ``record_sink`` takes the enriched records (dicts of schema v1); when it returns a
    PCollection, those are DeadLetters of records it could not write, and they join the
    dead-letter sink. Copies found by dedup skip NLP and are written with empty NLP fields.

    ``fuse_sinks=True`` (the Kafka run) applies each sink to every branch instead of flattening the
    branches first: the FnApiRunner turns every multi-input Flatten into a stage boundary and runs
    the stage behind it only once its input is complete, so with an unbounded source nothing would be
    written, and offsets would be committed before the sinks ran. Without Flatten the whole graph is
    one fused stage and the sinks flush in the bundle that read the records, before its offsets are
    committed (see transforms/kafka/source.py). Such sinks must allow several applications.
    """
    messages = root | "Read" >> source | "CountRead" >> beam.Map(metrics.read_counted)
    parsed = messages | "Parse" >> ParseArticles(config.parse_limits)
    labelled = (parsed.articles | "Dedup" >> DeduplicateArticles(config.dedup)
                | "CountDuplicates" >> beam.Map(metrics.duplicate_counted))
    originals, copies = labelled | "SplitCopies" >> beam.Partition(lambda a, _: 0 if _is_original(a) else 1, 2)
    annotated = originals | "NLP" >> AnnotateArticles(config.spacy_model, config.batch_size, config.nlp_processes)
    unannotated = copies | "SkipNLP" >> beam.Map(lambda article: (article, Enrichment()))
    build = beam.Map(lambda pair, info: build_record(*pair, info), pipeline_info(config))
    if fuse_sinks:
        unwritten = [annotated.annotated | "BuildRecord" >> build | "WriteRecords" >> record_sink,
                     unannotated | "BuildCopyRecord" >> build | "WriteCopyRecords" >> record_sink]
    else:
        records = (annotated.annotated, unannotated) | "JoinCopies" >> beam.Flatten() | "BuildRecord" >> build
        unwritten = [records | "WriteRecords" >> record_sink]
    dead_letters = [parsed.dead_letters, annotated.dead_letters]
    dead_letters.extend(pcoll for pcoll in unwritten if isinstance(pcoll, beam.PCollection))
    dead_letters = [pcoll | f"CountDeadLetters{i}" >> beam.Map(metrics.dead_letter_counted)
                    for i, pcoll in enumerate(dead_letters)]
    if fuse_sinks:
        for index, pcoll in enumerate(dead_letters):
            _ = pcoll | f"WriteDeadLetters{index}" >> dead_letter_sink
    else:
        _ = tuple(dead_letters) | "JoinDeadLetters" >> beam.Flatten() | "WriteDeadLetters" >> dead_letter_sink
