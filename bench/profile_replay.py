"""Where a replay's time goes, per stage: py-spy samples of a whole ``news-ingest replay`` process.

    python -m bench.profile_replay                                  # 600 unique articles, default options
    python -m bench.profile_replay --corpus dup40 -- --direct_num_workers 2 --direct_running_mode multi_processing
    python -m bench.profile_replay --stacks /tmp/replay.stacks     # re-read saved stacks, no new run

py-spy (``pip install py-spy``) samples every thread of the process (and of its subprocesses with
``--subprocesses``) 100 times a second while they are running; idle threads are not counted. Each
sample goes to one stage, decided by walking its stack from the root: a frame in ``transforms/X.py``
or ``transforms/X/`` makes it stage X, a frame inside spaCy's ``Language.pipe``/``__call__`` (or thinc)
makes it "spacy", ``spacy.load`` "model load", imports "imports", and anything else in Beam
"beam (runner)". The deepest decision wins, except that spaCy's own work stays "spacy" even when
an extractor calls into spaCy attributes (those samples count for the extractor that asked).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.corpus import ensure_corpus

_ROOT = Path(__file__).resolve().parent.parent

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_PROJECT = re.compile(r"(?:^|/)(transforms|pipeline)/([A-Za-z_]+)(?:/|\.py)")
_SPACY_WORK = ("Language.pipe", "Language.__call__", "Language._multiprocessing_pipe")


def classify(frames: list[str]) -> str:
    """The stage of one sample; ``frames`` from the root to the leaf.

    Walking down, a project module sets the stage (``transforms/events.py`` -> "events"); entering
    spaCy's ``Language.pipe``/``__call__`` ends the walk as "spacy" (the model's own work, even when
    an extractor's loop pulled the next Doc); ``spacy.load`` ends it as "model load" and an import
    as "imports". Beam frames below no project frame are the runner; their leaf tells coders/gRPC.
    """
    stage = "other"
    for frame in frames:
        match = _FRAME.match(frame)
        func, file = (match.group("func"), match.group("file")) if match else (frame, "")
        if func in ("_find_and_load", "_call_with_frames_removed") or "importlib" in file:
            return "imports"
        if func.startswith(_SPACY_WORK):
            return "spacy"
        if func == "load" and file.startswith("spacy/") or func == "load_model":
            return "model load"
        project = _PROJECT.search(file)
        if project and "apache_beam" not in file and "site-packages" not in file:
            package, module = project.groups()
            if package == "transforms":
                stage = "nlp (glue)" if module == "nlp" else module
            continue
        if "apache_beam" in file and stage == "other":
            stage = "beam (runner)"
    if stage == "beam (runner)" and frames:
        leaf = frames[-1]
        if "coder" in leaf or "pickle" in leaf or "dill" in leaf:
            stage = "beam (coders)"
        elif "grpc" in leaf:
            stage = "beam (grpc)"
    return stage


def read_stacks(path: str) -> collections.Counter:
    stages: collections.Counter = collections.Counter()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            if frames and frames[0].startswith(("process ", "thread ")):
                frames = [f for f in frames if not f.startswith(("process ", "thread "))]
            stages[classify(frames)] += int(count)
    return stages


def top_functions(path: str, prefix: str, limit: int = 15) -> list[tuple[str, int]]:
    """Leaf-most frames under a path fragment (e.g. 'transforms/'): self time of project code."""
    counts: collections.Counter = collections.Counter()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = [f for f in stack.split(";") if prefix in f]
            if frames:
                counts[frames[-1]] += int(count)
    return counts.most_common(limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="unique")
    parser.add_argument("--project", default=str(_ROOT))
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "news-ingest-bench"))
    parser.add_argument("--stacks", help="read these collapsed stacks instead of running")
    parser.add_argument("--save", help="keep the collapsed stacks here")
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--subprocesses", action="store_true")
    parser.add_argument("--top", default="transforms/", help="list the hottest frames under this path")
    parser.add_argument("replay_args", nargs="*", help="after --: extra replay arguments")
    args = parser.parse_args(argv)
    stacks = args.stacks
    if not stacks:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        corpus = ensure_corpus(args.corpus, workdir)
        stacks = args.save or str(workdir / "replay.stacks")
        py_spy = Path(sys.executable).with_name("py-spy")
        cmd = [str(py_spy), "record", "--format", "raw", "--rate", str(args.rate), "--nonblocking", "-o", stacks]
        if args.subprocesses:
            cmd.append("--subprocesses")
        cmd += ["--", sys.executable, "-m", "pipeline.cli", "replay", str(corpus),
                "--out", str(workdir / "profile.out.jsonl"), *args.replay_args]
        env = dict(os.environ, PYTHONPATH=str(Path(args.project).resolve()))
        subprocess.run(cmd, cwd=args.project, env=env, check=True, stdout=subprocess.DEVNULL)
    stages = read_stacks(stacks)
    total = sum(stages.values())
    print(f"{total} samples ({total / args.rate:.1f} s of running threads at {args.rate}/s)")
    print("| stage | samples | share |")
    print("| --- | --- | --- |")
    for stage, count in stages.most_common():
        print(f"| {stage} | {count} | {100 * count / total:.1f}% |")
    if args.top:
        print(f"\nhottest leaf frames under {args.top}:")
        for frame, count in top_functions(stacks, args.top):
            print(f"  {count:6d}  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
