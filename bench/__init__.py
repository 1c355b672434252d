"""Benchmarks. Run each from the project root as a module: ``python -m bench.throughput --help``.

Shared helpers: ``bench.corpus`` (every generated corpus, built from the seeds) and ``bench.proc``
(a child process's wall time, CPU time and peak RSS; the RSS of a process tree; load; percentiles).
Figures and the commands that made them: BENCHMARKS.md.
"""
