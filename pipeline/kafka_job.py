"""The Kafka job: ``news-ingest run`` (topics in, topics out, at-least-once) and ``news-ingest produce`` (files to a topic)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import time
import uuid

from pipeline import limits, observability
from pipeline.options import positive_float

__all__ = ["add_run_arguments", "run_command", "add_produce_arguments", "produce_command", "connection_from_args",
           "sinks_fused_with_source"]

_LOGGER = logging.getLogger(__name__)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.cli import add_pipeline_arguments
    from transforms.kafka.config import (DEFAULT_MAX_BUNDLE_SECONDS, DEFAULT_MAX_RECORD_BYTES,
                                         DEFAULT_MAX_RECORDS_PER_BUNDLE, START_FROM_CHOICES)

    _add_connection_arguments(parser)
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
    parser.add_argument("--max-record-bytes", type=limits.at_most(_int_at_least(1024), limits.MAX_RECORD_BYTES), default=DEFAULT_MAX_RECORD_BYTES,
                        help=f"largest record written to the output topic; larger ones become dead letters "
                             f"(default {DEFAULT_MAX_RECORD_BYTES}, lowered to the topic's max.message.bytes)")
    parser.add_argument("--max-bundle-records", type=limits.at_most(_int_at_least(1), limits.MAX_BUNDLE_RECORDS), default=DEFAULT_MAX_RECORDS_PER_BUNDLE,
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

    from pipeline.cli import pipeline_config, start_nlp_processes
    from pipeline.graph import build_graph
    from pipeline.options import UsageError, beam_options
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
        print(f"news-ingest: error: the Kafka run failed: {_one_line(err)}", file=sys.stderr)
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


def add_produce_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Send article files to a Kafka topic, one message per article: .txt raw scraped pages as "
                          "their text, .json article objects and each line of .jsonl as compact JSON; folders are "
                          "walked recursively. Key: the article's id when it has one.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="article file or folder")
    _add_connection_arguments(parser)
    parser.add_argument("--topic", required=True, metavar="TOPIC", help="topic to send the articles to")
    parser.add_argument("--create-topic", action="store_true", help="create the topic when it does not exist")
    parser.add_argument("--partitions", type=limits.at_most(_int_at_least(1), limits.MAX_PARTITIONS), default=None,
                        help="partitions of a topic created by --create-topic (default: the broker's)")


def produce_command(args) -> int:
    import orjson
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from pipeline.options import UsageError
    from pipeline.cli import check_article_paths
    from transforms.files import list_article_files, read_article_file
    from transforms.kafka import admin

    connection = connection_from_args(args)
    check_article_paths(args.paths)
    try:
        if args.create_topic:
            admin.create_topics(connection, {args.topic: args.partitions or -1})
        elif admin.missing_topics(connection, [args.topic]):
            raise UsageError(f"Kafka topic {args.topic!r} does not exist (--create-topic creates it)")
    except admin.KafkaAdminError as err:
        raise broker_error(err) from None

    producer = KafkaProducer(acks="all", enable_idempotence=True, linger_ms=5, **connection.client_kwargs())
    sent = skipped = 0
    futures = []
    try:
        files = (found for index, given in enumerate(args.paths) for found in list_article_files(index, given))
        for article_file in files:  # listed lazily, read bounded, only regular files (transforms/file_safety.py)
            for message in read_article_file(article_file, ingest_time=time.time()):
                where = message.source["file"] + (f":{message.source['line']}" if "line" in message.source else "")
                key, value = None, message.payload
                if message.read_error is not None:  # already warned about, one line, where it was read
                    skipped += 1
                    continue
                if message.content_kind == "json":
                    try:
                        obj = orjson.loads(message.payload)
                    except orjson.JSONDecodeError as err:
                        obj, reason = None, f"invalid JSON ({err})"
                    else:
                        reason = f"a JSON {type(obj).__name__}, not an object"
                    if not isinstance(obj, dict):
                        print(f"news-ingest: skipped {where}: {reason}", file=sys.stderr)
                        skipped += 1
                        continue
                    value = orjson.dumps(obj)
                    if obj.get("id") is not None:
                        key = str(obj["id"]).encode("utf-8")
                futures.append((where, producer.send(args.topic, key=key, value=value)))
                sent += 1
        producer.flush(timeout=120)
    except KafkaError as err:
        print(f"news-ingest: error: producing to {args.topic} failed: {_one_line(err)}", file=sys.stderr)
        return 1
    finally:
        producer.close(timeout=30)
    failed = [(where, future.exception) for where, future in futures if not future.succeeded()]
    for where, error in failed[:10]:
        print(f"news-ingest: not written {where}: {_one_line(error)}", file=sys.stderr)
    print(f"news-ingest: {sent - len(failed)} messages to {args.topic}"
          + (f", {skipped} skipped" if skipped else "") + (f", {len(failed)} failed" if failed else ""), file=sys.stderr)
    return 1 if failed or skipped else 0


def broker_error(error) -> Exception:
    """The CLI error for a KafkaAdminError: its exit status says unreachable (69), credentials or TLS (77), or usage (2)."""
    from pipeline.exit_status import CredentialsRefused, ServiceUnavailable
    from pipeline.options import UsageError

    kinds = {"unreachable": ServiceUnavailable, "authentication": CredentialsRefused, "tls": CredentialsRefused}
    return kinds.get(error.kind, UsageError)(str(error))


def connection_from_args(args):
    """The connection settings: options first, then NEWS_INGEST_KAFKA_* variables (read here, once)."""
    from pipeline.options import UsageError
    from transforms.kafka.config import SECURITY_SETTINGS, KafkaConnection, security_from_env

    try:
        security = security_from_env()
    except ValueError as err:
        raise UsageError(str(err)) from None
    for name in SECURITY_SETTINGS:
        value = getattr(args, name, None)
        if value is not None:
            security[name] = value
    try:
        return KafkaConnection(args.bootstrap_servers, client_id=args.client_id, security=security)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    import os

    from transforms.kafka.config import SECURITY_ENV_PREFIX

    default_servers = os.environ.get(SECURITY_ENV_PREFIX + "BOOTSTRAP_SERVERS")
    parser.add_argument("--bootstrap-servers", "--bootstrap-server", dest="bootstrap_servers",
                        required=default_servers is None, default=default_servers,
                        metavar="HOST:PORT[,...]",
                        help=f"Kafka brokers (default: ${SECURITY_ENV_PREFIX}BOOTSTRAP_SERVERS)")
    parser.add_argument("--client-id", default="news-ingest", help="client id shown to the brokers")
    group = parser.add_argument_group(
        "Kafka security", f"passed to kafka-python; each also reads {SECURITY_ENV_PREFIX}<NAME> "
        f"(e.g. {SECURITY_ENV_PREFIX}SASL_PLAIN_PASSWORD); prefer the environment for secrets")
    group.add_argument("--security-protocol", choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
    group.add_argument("--sasl-mechanism", choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER"))
    group.add_argument("--sasl-plain-username", metavar="USER")
    group.add_argument("--sasl-plain-password", metavar="PASSWORD")
    group.add_argument("--sasl-kerberos-service-name", metavar="NAME")
    group.add_argument("--sasl-kerberos-domain-name", metavar="NAME")
    group.add_argument("--ssl-cafile", metavar="FILE")
    group.add_argument("--ssl-certfile", metavar="FILE")
    group.add_argument("--ssl-keyfile", metavar="FILE")
    group.add_argument("--ssl-password", metavar="PASSWORD")
    group.add_argument("--ssl-crlfile", metavar="FILE")
    group.add_argument("--ssl-ciphers", metavar="CIPHERS")
    group.add_argument("--ssl-check-hostname", action=argparse.BooleanOptionalAction, default=None)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}".strip()


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value
    return parse
