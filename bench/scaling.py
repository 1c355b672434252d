"""How replay throughput scales with workers, running modes and batch sizes, against raw spaCy n_process 1/2.

    python -m bench.scaling                          # the standard grid below, 2 interleaved repetitions
    python -m bench.scaling --repeats 3 --only "mp2,mp2 b16,raw2"
    python -m bench.scaling --grid "mt2=--direct_num_workers 2 --direct_running_mode multi_threading"

Each configuration is a whole ``news-ingest replay`` process over the same corpus (default: 600 unique
articles), timed like bench/throughput.py (start-up and model load included), interleaved with raw spaCy
so that every figure is a ratio to raw spaCy measured in the same repetition.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile

from bench.throughput import _ROOT, Run, raw_variant, replay_variant

# name -> extra replay arguments ("raw1"/"raw2" are raw spaCy with n_process 1/2)
STANDARD_GRID = {
    "raw1": None,
    "raw2": None,
    "inmem1": "--direct_running_mode in_memory --direct_num_workers 1",
    "mt2": "--direct_running_mode multi_threading --direct_num_workers 2",
    "mp1": "--direct_running_mode multi_processing --direct_num_workers 1",
    "mp2": "--direct_running_mode multi_processing --direct_num_workers 2",
    "mp2 b16": "--direct_running_mode multi_processing --direct_num_workers 2 --batch-size 16",
    "mp2 b256": "--direct_running_mode multi_processing --direct_num_workers 2 --batch-size 256",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="unique")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--project", default=str(_ROOT))
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "news-ingest-bench"))
    parser.add_argument("--only", help="comma-separated names from the grid")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=ARGS",
                        help="add (or replace) a configuration")
    parser.add_argument("--raw-batch-size", type=int, default=64)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    grid = dict(STANDARD_GRID)
    for item in args.grid:
        name, _, extra = item.partition("=")
        grid[name.strip()] = extra
    if args.only:
        wanted = [n.strip() for n in args.only.split(",")]
        grid = {n: grid[n] for n in wanted}
    run = Run.prepare(args.corpus, args.workdir, args.project)
    variants = []
    for name, extra in grid.items():
        if name.startswith("raw"):
            n_process = int(name[3:] or 1)
            variants.append(raw_variant(f"{name}: raw spaCy n_process={n_process}", run.corpus, run.model, n_process,
                                        args.raw_batch_size))
        else:
            variants.append(replay_variant(f"{name}: replay {extra}", run.corpus, run.workdir, shlex.split(extra),
                                           run.project))
    run.measure(variants, args.repeats, args.json)
    return 0

if __name__ == "__main__":
    sys.exit(main())
