"""``news-ingest produce``: article files to a Kafka topic, one message per article."""

from __future__ import annotations

import argparse
import sys
import time

from pipeline import limits
from pipeline.args import (add_connection_arguments, broker_error, check_article_paths, connection_from_args,
                           int_at_least, one_line)
from pipeline.options import UsageError

__all__ = ["add_produce_arguments", "produce_command"]


def add_produce_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Send article files to a Kafka topic, one message per article: .txt raw scraped pages as "
                          "their text, .json article objects and each line of .jsonl as compact JSON; folders are "
                          "walked recursively. Key: the article's id when it has one.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="article file or folder")
    add_connection_arguments(parser)
    parser.add_argument("--topic", required=True, metavar="TOPIC", help="topic to send the articles to")
    parser.add_argument("--create-topic", action="store_true", help="create the topic when it does not exist")
    parser.add_argument("--partitions", type=limits.at_most(int_at_least(1), limits.MAX_PARTITIONS), default=None,
                        help="partitions of a topic created by --create-topic (default: the broker's)")


def produce_command(args) -> int:
    import orjson
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

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
        print(f"news-ingest: error: producing to {args.topic} failed: {one_line(err)}", file=sys.stderr)
        return 1
    finally:
        producer.close(timeout=30)
    failed = [(where, future.exception) for where, future in futures if not future.succeeded()]
    for where, error in failed[:10]:
        print(f"news-ingest: not written {where}: {one_line(error)}", file=sys.stderr)
    print(f"news-ingest: {sent - len(failed)} messages to {args.topic}"
          + (f", {skipped} skipped" if skipped else "") + (f", {len(failed)} failed" if failed else ""), file=sys.stderr)
    return 1 if failed or skipped else 0
