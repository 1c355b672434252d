"""Throughput of ``news-ingest replay`` against raw spaCy ``nlp.pipe``, whole processes, interleaved.

    python bench/throughput.py                      # 600 unique articles, 3 interleaved repetitions
    python bench/throughput.py --corpus dup40       # 600 articles of which 40% are copies
    python bench/throughput.py --repeats 5 --replay-args "--direct_num_workers 2 --direct_running_mode multi_processing"

Every variant runs as its own process, timed from spawn to exit (Python start-up, imports, model load
and the work), so the figures compare what a user waits for. The machine is shared and noisy, so each
repetition runs every variant once, in rotated order, and the headline figure is the ratio of the
pipeline's throughput to the better raw spaCy run *of the same repetition* (median over repetitions).
CPU seconds (user + system, children included) are reported too: they move much less with the noise.

Raw spaCy is the same model with all its components over the same texts (each article's ``text``),
``nlp.pipe(texts, batch_size=B, n_process=N)`` for N in 1 and 2; the better of the two counts.

The replay output is checked: one record per article, and the count of records flagged as copies
(must be 0 for the unique corpus).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Variant", "run_variants", "replay_variant", "raw_variant", "ensure_corpus", "summarize", "main"]

_BENCH = Path(__file__).resolve().parent
_ROOT = _BENCH.parent
_CORPORA = {"unique": "unique600.jsonl", "dup40": "dup40.jsonl"}


@dataclass
class Variant:
    name: str
    argv: list[str]
    kind: str  # "replay" | "raw" | other
    out: str | None = None  # replay output to check
    runs: list[dict] = field(default_factory=list)


def ensure_corpus(kind_or_path: str, workdir: Path) -> Path:
    """A corpus file: an existing path, or one of the named corpora built by bench/corpus.py."""
    if kind_or_path not in _CORPORA:
        return Path(kind_or_path)
    path = workdir / _CORPORA[kind_or_path]
    if not path.exists():
        subprocess.run([sys.executable, str(_BENCH / "corpus.py"), kind_or_path, "--out", str(path)], check=True)
    return path


def replay_variant(name: str, corpus: Path, workdir: Path, extra: list[str], project: Path = _ROOT) -> Variant:
    """``news-ingest replay``; extra arguments starting with ``pool:N`` run it through
    bench/profile_nlp_pool.py with N spaCy worker processes instead."""
    out = workdir / f"{''.join(c if c.isalnum() else '_' for c in name)[:80]}.out.jsonl"
    command = [sys.executable, "-m", "pipeline.cli"]
    if extra and extra[0].startswith("pool:"):
        command = [sys.executable, str(_BENCH / "profile_nlp_pool.py"), "--nlp-processes", extra[0][5:]]
        extra = extra[1:]
    argv = [*command, "replay", str(corpus), "--out", str(out), *extra]
    return Variant(name, argv, "replay", str(out))


def raw_variant(name: str, corpus: Path, model: str, n_process: int, batch_size: int) -> Variant:
    argv = [sys.executable, str(Path(__file__).resolve()), "raw-spacy", str(corpus), "--model", model,
            "--n-process", str(n_process), "--batch-size", str(batch_size)]
    return Variant(name, argv, "raw")


def _load1() -> float:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return float(handle.read().split()[0])


def _run_once(variant: Variant, project: Path, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(project), PYTHONHASHSEED="0")
    env.pop("NEWS_INGEST_LOG_LEVEL", None)
    load_before = _load1()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(variant.argv, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    run = {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
           "max_rss_mb": round(usage.ru_maxrss / 1024, 1), "rc": proc.returncode,
           "load1_before": load_before, "load1_after": _load1()}
    if proc.returncode != 0:
        run["stderr_tail"] = stderr[-2000:]
    if variant.out and proc.returncode == 0:
        run.update(_check_replay_output(variant.out))
    return run


def _check_replay_output(path: str) -> dict:
    statuses: dict[str, int] = {}
    records = 0
    with open(path, "rb") as handle:
        for line in handle:
            record = json.loads(line)
            records += 1
            status = (record.get("dedup") or {}).get("status", "original")
            statuses[status] = statuses.get(status, 0) + 1
    return {"records": records, "dedup": statuses}


def run_variants(variants: list[Variant], repeats: int, project: Path, timeout: float = 900,
                 log=sys.stderr) -> list[Variant]:
    """Each repetition runs every variant once; the order rotates so no variant always goes first."""
    for rep in range(repeats):
        shift = rep % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            run = _run_once(variant, project, timeout)
            run["rep"] = rep
            variant.runs.append(run)
            extra = f" records={run.get('records')} dedup={run.get('dedup')}" if variant.out else ""
            print(f"[rep {rep}] {variant.name}: wall {run['wall_s']:.1f} s, cpu {run['cpu_s']:.1f} s, "
                  f"rss {run['max_rss_mb']:.0f} MB, load {run['load1_before']:.1f}, rc {run['rc']}{extra}",
                  file=log, flush=True)
            if run["rc"] != 0:
                print(run.get("stderr_tail", ""), file=log)
    return variants


def summarize(variants: list[Variant], articles: int) -> dict:
    """Per variant: median wall/cpu and throughput; per replay: median over repetitions of its
    throughput divided by the best raw spaCy throughput of the same repetition."""
    raws = [v for v in variants if v.kind == "raw"]
    summary: dict = {"articles": articles, "variants": {}}
    for variant in variants:
        ok = [r for r in variant.runs if r["rc"] == 0]
        if not ok:
            summary["variants"][variant.name] = {"failed": True}
            continue
        walls = [r["wall_s"] for r in ok]
        entry = {
            "runs": len(ok),
            "wall_s_median": round(statistics.median(walls), 2),
            "wall_s_min": round(min(walls), 2),
            "cpu_s_median": round(statistics.median(r["cpu_s"] for r in ok), 2),
            "articles_per_s_median": round(articles / statistics.median(walls), 2),
            "max_rss_mb": max(r["max_rss_mb"] for r in ok),
            "load1_median": round(statistics.median(r["load1_before"] for r in ok), 2),
        }
        if variant.kind != "raw" and raws:
            ratios, cpu_ratios = [], []
            for run in ok:
                same_rep = [r for raw in raws for r in raw.runs if r["rep"] == run["rep"] and r["rc"] == 0]
                if same_rep:
                    best = min(same_rep, key=lambda r: r["wall_s"])
                    ratios.append(best["wall_s"] / run["wall_s"])
                    cpu_ratios.append(min(r["cpu_s"] for r in same_rep) / run["cpu_s"])
            if ratios:
                entry["vs_best_raw_median"] = round(statistics.median(ratios), 3)
                entry["vs_best_raw_each"] = [round(r, 3) for r in ratios]
                entry["cpu_vs_least_raw_cpu_median"] = round(statistics.median(cpu_ratios), 3)
        if variant.out:
            entry["records"] = ok[-1].get("records")
            entry["dedup"] = ok[-1].get("dedup")
        summary["variants"][variant.name] = entry
    return summary


def _print_table(summary: dict, out=sys.stdout) -> None:
    print(f"| variant | runs | wall s (median) | articles/s | CPU s | max RSS MB | load1 | vs best raw (median) |", file=out)
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", file=out)
    for name, e in summary["variants"].items():
        if e.get("failed"):
            print(f"| {name} | failed | | | | | | |", file=out)
            continue
        ratio = e.get("vs_best_raw_median", "")
        each = e.get("vs_best_raw_each")
        ratio_text = f"{ratio} ({', '.join(map(str, each))})" if each else ""
        print(f"| {name} | {e['runs']} | {e['wall_s_median']} | {e['articles_per_s_median']} | {e['cpu_s_median']} "
              f"| {e['max_rss_mb']:.0f} | {e['load1_median']} | {ratio_text} |", file=out)


def _raw_spacy(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="throughput.py raw-spacy")
    parser.add_argument("corpus")
    parser.add_argument("--model", required=True)
    parser.add_argument("--n-process", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    import spacy

    nlp = spacy.load(args.model)
    with open(args.corpus, "rb") as handle:
        texts = [json.loads(line)["text"] for line in handle if line.strip()]
    count = sum(1 for _ in nlp.pipe(texts, batch_size=args.batch_size, n_process=args.n_process))
    print(f"raw spaCy: {count} docs", file=sys.stderr)
    return 0


def _default_model(project: Path) -> str:
    sys.path.insert(0, str(project))
    from transforms.nlp.transform import default_model_name

    return default_model_name()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["raw-spacy"]:
        return _raw_spacy(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="unique", help="unique | dup40 | a .jsonl path (default unique)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--project", default=str(_ROOT), help="project tree to run (default: this one)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "news-ingest-bench"))
    parser.add_argument("--replay-args", action="append", default=None,
                        help="extra replay arguments (quoted); repeat for several replay variants")
    parser.add_argument("--raw-batch-size", type=int, default=64)
    parser.add_argument("--raw-n-process", default="1,2")
    parser.add_argument("--json", help="write the runs and the summary here")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    project = Path(args.project).resolve()
    corpus = ensure_corpus(args.corpus, workdir)
    with open(corpus, "rb") as handle:
        articles = sum(1 for line in handle if line.strip())
    model = _default_model(project)
    variants = [raw_variant(f"raw spaCy n_process={n} batch={args.raw_batch_size}", corpus, model, int(n),
                            args.raw_batch_size) for n in args.raw_n_process.split(",")]
    for extra in args.replay_args or [""]:
        label = f"replay {extra}".strip()
        variants.append(replay_variant(label, corpus, workdir, shlex.split(extra), project))
    print(f"corpus {corpus} ({articles} articles), model {model}, project {project}, "
          f"{os.cpu_count()} cores", file=sys.stderr)
    run_variants(variants, args.repeats, project)
    summary = summarize(variants, articles)
    summary.update(corpus=str(corpus), model=model, repeats=args.repeats)
    _print_table(summary)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"summary": summary, "runs": {v.name: v.runs for v in variants},
                       "argv": [v.argv for v in variants]}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
