"""``news-ingest run``: the Kafka job (topics in, topics out, at-least-once)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
import uuid

from pipeline import observability
from pipeline import limits
from pipeline.args import (add_connection_arguments, add_pipeline_arguments, broker_error, connection_from_args,
                           int_at_least, one_line)
from pipeline.config import pipeline_config, start_nlp_processes
from pipeline.options import UsageError, positive_float

__all__ = ["add_run_arguments", "run_command", "sinks_fused_with_source", "freeze_startup_objects"]

_LOGGER = logging.getLogger(__name__)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    from transforms.kafka.config import (DEFAULT_MAX_BUNDLE_SECONDS, DEFAULT_MAX_RECORD_BYTES,
                                         DEFAULT_MAX_RECORDS_PER_BUNDLE, START_FROM_CHOICES)

    add_connection_arguments(parser)
    parser.add_argument("--input-topic", required=True, action="append", metavar="TOPIC",
                        help="topic to read articles from (repeat, or separate with commas, for several)")
    parser.add_argument("--output-topic", required=True, metavar="TOPIC", help="topic for enriched records")
    parser.add_argument("--dlq-topic", required=True, metavar="TOPIC", help="topic for dead letters")
    parser.add_argument("--group-id", required=True, metavar="GROUP", help="consumer group whose offsets are committed")
    parser.add_argument("--start-from", choices=START_FROM_CHOICES, default="earliest",
                        help="where partitions without a committed offset start (default earliest)")
    parser.add_argument("--until-caught-up", action="store_true",
                        help="stop once everything up to the end offsets seen at start is processed")
    parser.add_argument("--create-topics", action="store_true",
                        help="create the output and dead-letter topics when they do not exist")
    parser.add_argument("--max-record-bytes", type=limits.at_most(int_at_least(1024), limits.MAX_RECORD_BYTES), default=DEFAULT_MAX_RECORD_BYTES,
                        help=f"largest record written to the output topic; larger ones become dead letters "
                             f"(default {DEFAULT_MAX_RECORD_BYTES}, lowered to the topic's max.message.bytes)")
    parser.add_argument("--max-bundle-records", type=limits.at_most(int_at_least(1), limits.MAX_BUNDLE_RECORDS), default=DEFAULT_MAX_RECORDS_PER_BUNDLE,
                        help=f"records per bundle, i.e. between offset commits (default {DEFAULT_MAX_RECORDS_PER_BUNDLE})")
    parser.add_argument("--max-bundle-seconds", type=limits.at_most(positive_float, limits.MAX_SECONDS), default=DEFAULT_MAX_BUNDLE_SECONDS,
                        help=f"seconds of reading per bundle (default {DEFAULT_MAX_BUNDLE_SECONDS:g})")
    add_pipeline_arguments(parser)
    observability.add_arguments(parser, shutdown=True)


def freeze_startup_objects() -> None:
    """Keep what exists once the pipeline is built out of the cyclic GC's full collections.

    The modules, the graph and the configuration live as long as the job; unfrozen, every full
    collection walks them again while records stream through. Frozen, the Kafka source alone read
    about 1.15x faster (BENCHMARKS.md, Kafka)."""
    gc.collect()
    gc.freeze()


def run_command(args, beam_args: list[str], *, own_process: bool = False) -> int:
    import apache_beam as beam

    from pipeline.graph import build_graph
    from pipeline.options import beam_options
    from transforms.kafka import admin
    from transforms.kafka.config import KafkaSinkConfig, KafkaSourceConfig
    from transforms.kafka.sink import WriteDeadLettersToKafka, WriteRecordsToKafka
    from transforms.kafka.source import ReadFromKafka, close_committers, finish_run, register_run, request_stop

    observability.configure_logging(args.log_format)
    connection = connection_from_args(args)
    input_topics = tuple(dict.fromkeys(t.strip() for value in args.input_topic for t in value.split(",") if t.strip()))
    if not input_topics:
        raise UsageError("--input-topic must name a topic")
    if set(input_topics) & {args.output_topic, args.dlq_topic}:
        raise UsageError("an input topic must not also be the output or dead-letter topic")
    start_nlp_processes(args)
    options = beam_options(beam_args, streaming=not args.until_caught_up)
    try:
        missing = admin.missing_topics(connection, (*input_topics, args.output_topic, args.dlq_topic))
        if args.create_topics:
            admin.create_topics(connection, {t: -1 for t in missing if t in (args.output_topic, args.dlq_topic)})
            missing = [t for t in missing if t in input_topics]
        if missing:
            hint = "" if args.create_topics else " (--create-topics creates the output and dead-letter topics)"
            raise UsageError(f"Kafka topic(s) missing: {', '.join(missing)}{hint}")
        stop_offsets = None
        if args.until_caught_up:
            ends = admin.end_offsets(connection, input_topics)
            stop_offsets = tuple((topic, partition, offset) for (topic, partition), offset in sorted(ends.items()))
    except admin.KafkaAdminError as err:
        raise broker_error(err) from None
    config = pipeline_config(args)
    token = f"run-{uuid.uuid4().hex}"
    try:
        source_config = KafkaSourceConfig(connection, input_topics, args.group_id, start_from=args.start_from,
                                          stop_offsets=stop_offsets, run_token=token)
        record_sink = KafkaSinkConfig(connection, args.output_topic, max_record_bytes=args.max_record_bytes)
        dead_letter_sink = KafkaSinkConfig(connection, args.dlq_topic, max_record_bytes=args.max_record_bytes)
    except ValueError as err:
        raise UsageError(str(err)) from None

    root = beam.Pipeline(options=options)
    build_graph(
        root,
        source=ReadFromKafka(source_config, max_records_per_bundle=args.max_bundle_records,
                             max_bundle_seconds=args.max_bundle_seconds),
        record_sink=WriteRecordsToKafka(record_sink),
        dead_letter_sink=WriteDeadLettersToKafka(dead_letter_sink),
        config=config,
        fuse_sinks=True,
    )
    fused = sinks_fused_with_source(root)
    register_run(token, commit_at_end=not fused)
    if fused:
        commits = "after each bundle, once both sinks have flushed it"
    else:
        commits = "when the run ends (the sinks are not fused with the source on this runner)"
        if not args.until_caught_up:
            print("news-ingest: warning: the graph is not one fused stage on this runner: records are written, "
                  "and offsets committed, only when the run stops", file=sys.stderr)
    print(f"news-ingest: reading {', '.join(input_topics)} as group {args.group_id}; offsets are committed {commits}",
          file=sys.stderr, flush=True)

    # SIGTERM/SIGINT (pipeline/observability.py, GracefulShutdown): the source stops reading, the last
    # bundle finishes and its offsets are committed; --shutdown-timeout bounds the wait.
    session = observability.run_session(args, options, config, source_config, on_stop=lambda: request_stop(token))
    started = time.time()
    succeeded = False
    try:
        with session:
            if own_process:  # not in someone else's process (tests): frozen objects are never collected
                freeze_startup_objects()
            root.run().wait_until_finish()
        succeeded = True
    except UsageError:
        raise
    except KeyboardInterrupt:
        print("news-ingest: interrupted; offsets of unfinished work are not committed", file=sys.stderr)
        return 130
    except Exception as err:  # the pipeline failed: nothing past the last finished bundle is committed
        _LOGGER.debug("pipeline failed", exc_info=True)
        print(f"news-ingest: error: the Kafka run failed: {one_line(err)}", file=sys.stderr)
        return 1
    finally:
        try:
            finish_run(token, commit=succeeded)  # commits deferred offsets only after a clean finish
        finally:
            close_committers()
    print(f"news-ingest: run of group {args.group_id} finished in {time.time() - started:.1f} s", file=sys.stderr)
    return 0


def sinks_fused_with_source(pipeline) -> bool:
    """True when the FnApiRunner fuses the Kafka source and every Kafka sink into one stage.

    Only then does a sink's finish_bundle run inside the source's bundle, before that bundle's
    checkpoint is finalized (offsets committed). For any other runner the answer is False: commits
    then wait for the end of the run.
    """
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    runner = pipeline.options.view_as(StandardOptions).runner
    if str(runner).split(".")[-1] not in ("FnApiRunner", "FnApiRunner()"):
        return False
    _, stages = fn_runner.FnApiRunner().create_stages(pipeline.to_runner_api())
    source_stage = sinks = None
    for stage in stages:
        names = [transform.unique_name for transform in stage.transforms]
        if any(name.endswith("ReadUnbounded/ReadUnbounded/Process") for name in names):
            source_stage = stage
    for stage in stages:
        for transform in stage.transforms:
            if transform.unique_name.endswith("/Produce"):
                sinks = (sinks or 0) + 1
                if stage is not source_stage:
                    return False
    return source_stage is not None and bool(sinks)
