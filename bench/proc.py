"""Measuring processes: a child's wall time, CPU time and peak RSS, the RSS of a process tree, load, percentiles."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["descendants", "rss_kib", "self_rss_kib", "load1", "run_timed", "percentile"]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``: the children of each of its threads, and theirs."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.update(children)
            todo.extend(children)
    return found


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB (0 when it is gone)."""
    total = 0
    for current in {pid} | descendants(pid):
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def self_rss_kib() -> int:
    """VmRSS of this process, in KiB."""
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))


def load1() -> float:
    """The one-minute load average (the machine is shared: every figure says what it was)."""
    with open("/proc/loadavg", encoding="ascii") as handle:
        return float(handle.read().split()[0])


def run_timed(argv: list[str], *, cwd: str | Path, env: dict, timeout: float) -> dict:
    """Run ``argv`` to its end (killed after ``timeout`` s): wall and CPU seconds (the child and its waited-for
    children, from wait4), its peak RSS in MB (ru_maxrss: the largest single process, not the tree), the
    exit code, the load before and after, and the tail of its stderr when it failed."""
    load_before = load1()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
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
           "load1_before": load_before, "load1_after": load1()}
    if proc.returncode != 0:
        run["stderr_tail"] = stderr[-2000:]
    return run


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank over ``values``; NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
