"""``news-ingest replay``: article files through the pipeline on a local runner, records to JSON Lines files."""

from __future__ import annotations

import os
import sys
import time

from pipeline import observability
from pipeline.args import add_pipeline_arguments, article_files
from pipeline.config import pipeline_config, start_nlp_processes
from pipeline.options import UsageError

__all__ = ["add_replay_arguments", "replay_command"]


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
    for path in (args.out, dlq):
        _check_writable(path)
    start_nlp_processes(args)

    import apache_beam as beam

    from pipeline.graph import build_graph
    from pipeline.options import beam_options
    from pipeline.progress import ShowProgress
    from transforms.files import ReadArticleFiles
    from transforms.sinks import WriteJsonLines, encode_dead_letter

    options = beam_options(beam_args)
    files = article_files(args.paths)
    config = pipeline_config(args, bounded=True)
    started = time.time()
    with observability.replay_session(args, options, config), beam.Pipeline(options=options) as root:
        build_graph(
            root,
            source=ReadArticleFiles(files, ingest_time=started),
            record_sink=ShowProgress() | WriteJsonLines(args.out),
            dead_letter_sink=WriteJsonLines(dlq, encode=encode_dead_letter),
            config=config,
        )
    written, dead = _count_lines(args.out), _count_lines(dlq)
    print(f"news-ingest: {written} records to {args.out}, {dead} dead letters to {dlq} "
          f"in {time.time() - started:.1f} s", file=sys.stderr)
    return 0


def _default_dlq_path(out: str) -> str:
    stem = out[:-len(".jsonl")] if out.endswith(".jsonl") else out
    return stem + ".dlq.jsonl"


def _check_writable(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"output {path} is a folder")
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {path}: permission denied")


def _count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)
