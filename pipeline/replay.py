"""``news-ingest replay``: article files through the pipeline on a local runner, records to JSON Lines files."""

from __future__ import annotations

import logging
import os
import sys
import time

from pipeline import observability
from pipeline.args import add_pipeline_arguments, check_article_paths
from pipeline.config import pipeline_config, start_nlp_processes
from pipeline.options import UsageError
from pipeline.output_paths import OutputPathError, StagedOutputs, resolve_outputs

__all__ = ["add_replay_arguments", "replay_command"]

_LOGGER = logging.getLogger(__name__)


def add_replay_arguments(commands) -> None:
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


def replay_command(args, beam_args: list[str]) -> int:
    dlq = args.dlq or _default_dlq_path(args.out)
    check_article_paths(args.paths)
    try:
        targets = resolve_outputs([("--out", args.out), ("--dlq", dlq)], args.paths)
    except OutputPathError as err:
        raise UsageError(str(err)) from None
    start_nlp_processes(args)

    import apache_beam as beam

    from pipeline.graph import build_graph
    from pipeline.options import beam_options
    from pipeline.progress import ShowProgress
    from transforms.files import ReadArticleFiles
    from transforms.sinks import WriteJsonLines, encode_dead_letter

    options = beam_options(beam_args)
    config = pipeline_config(args, bounded=True)
    started = time.time()
    try:
        # Written beside their targets and renamed over them only once the whole run succeeded (output_paths.py).
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


def _default_dlq_path(out: str) -> str:
    stem = out[:-len(".jsonl")] if out.endswith(".jsonl") else out
    return stem + ".dlq.jsonl"


def _count_lines(path: str) -> int:
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)
