"""Command line: ``news-ingest replay`` (files, local runner), ``run`` (Kafka job), ``produce`` (files to Kafka)."""

from __future__ import annotations

import argparse
import gc
import sys

from pipeline import exit_status, observability
from pipeline.args import resolve_nlp_arguments
from pipeline.options import RaisingParser, UsageError
from pipeline.produce import add_produce_arguments, produce_command
from pipeline.replay import add_replay_arguments, replay_command
from pipeline.run import add_run_arguments, run_command

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = RaisingParser(prog="news-ingest", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=RaisingParser)
    add_replay_arguments(commands)
    add_run_arguments(commands.add_parser(
        "run", help="run the pipeline against Kafka topics", description="Consume articles from Kafka, "
        "write enriched records and dead letters to Kafka; at-least-once. Beam options pass through."))
    add_produce_arguments(commands.add_parser(
        "produce", help="send article files to a Kafka topic, one message per article"))
    return parser


def main(argv: list[str] | None = None) -> int:
    observability.configure_logging("text", events=False)  # before Beam is imported: it logs at import
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
            return run_command(args, beam_args, own_process=argv is None)
        if beam_args:
            raise UsageError(f"unrecognized arguments: {' '.join(beam_args)}")
        return produce_command(args)
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
