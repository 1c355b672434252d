"""Replay of a folder with hostile entries against the same folder without them, in one run (issue 20).

    python -m bench.hostile_files [--articles 20] [--out /tmp/hostile.json]

Both folders hold the same ``--articles`` seed-derived article files. The hostile one adds what a careless
operator's folder can hold: a link to /dev/zero, a FIFO, a dangling link, a link loop, a sparse 4 GiB
``.json`` file (a disk image, say) and a 3 MB one-line ``.jsonl``. Each replay runs as a child process
(``news-ingest replay DIR --out ...``, one NLP process); the figures are its wall and CPU seconds, its
largest process's peak RSS, the exit code, and the records and dead letters written. The hostile folder
should cost about what the clean one does: every read is bounded before it is buffered.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.corpus import load_seeds, unique_articles
from bench.proc import run_timed

ROOT = Path(__file__).resolve().parents[1]


def _write_articles(folder: Path, articles: list[dict]) -> None:
    folder.mkdir(parents=True)
    for number, article in enumerate(articles):
        (folder / f"{number:04d}.json").write_text(json.dumps(article), encoding="utf-8")


def _add_hostile_entries(folder: Path) -> None:
    (folder / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.jsonl")
    (folder / "dangling.json").symlink_to(folder / "gone.json")
    (folder / "loop.json").symlink_to(folder / "loop.json")
    with open(folder / "disk-image.json", "wb") as sparse:
        sparse.truncate(4 << 30)  # 4 GiB of zeros that take no disk
    (folder / "one-line.jsonl").write_bytes(b'{"id": "x", "text": "' + b"word " * 600_000 + b'"}\n')


def _count_lines(path: Path) -> int:
    return sum(1 for _ in path.open("rb")) if path.exists() else 0


def _replay(folder: Path, out: Path) -> dict:
    argv = [sys.executable, "-m", "pipeline.cli", "replay", str(folder), "--out", str(out), "--nlp-processes", "1"]
    env = {k: v for k, v in os.environ.items() if k != "NEWS_INGEST_LOG_LEVEL"}
    run = run_timed(argv, cwd=ROOT, env=env, timeout=900)
    run["records"] = _count_lines(out)
    run["dead_letters"] = _count_lines(out.with_name(out.stem + ".dlq.jsonl"))
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    articles, _overlap = unique_articles(load_seeds(), count=args.articles)
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as work:
        work = Path(work)
        _write_articles(work / "clean", articles)
        _write_articles(work / "hostile", articles)
        _add_hostile_entries(work / "hostile")
        results = {"articles": args.articles,
                   "clean": _replay(work / "clean", work / "clean.jsonl"),
                   "hostile": _replay(work / "hostile", work / "hostile.jsonl")}
    for name in ("clean", "hostile"):
        run = results[name]
        print(f"{name:8s} rc={run['rc']} records={run['records']} dead_letters={run['dead_letters']} "
              f"wall={run['wall_s']}s cpu={run['cpu_s']}s peak_rss={run['max_rss_mb']}MB load={run['load1_before']}")
    results["ratio_peak_rss"] = round(results["hostile"]["max_rss_mb"] / results["clean"]["max_rss_mb"], 3)
    results["ratio_wall"] = round(results["hostile"]["wall_s"] / results["clean"]["wall_s"], 3)
    print(f"hostile/clean: peak RSS x{results['ratio_peak_rss']}, wall x{results['ratio_wall']}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
