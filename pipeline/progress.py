"""Progress on a terminal: records written and their rate, on one refreshing line of stderr."""

from __future__ import annotations

import sys
import time

import apache_beam as beam

__all__ = ["ShowProgress"]


class _ProgressFn(beam.DoFn):
    _REFRESH_SECONDS = 0.5

    def setup(self):
        self._started = time.monotonic()
        self._count = 0
        self._shown_at = 0.0
        self._enabled = sys.stderr.isatty()

    def process(self, element):
        self._count += 1
        now = time.monotonic()
        if self._enabled and now - self._shown_at >= self._REFRESH_SECONDS:
            self._shown_at = now
            rate = self._count / max(now - self._started, 1e-9)
            sys.stderr.write(f"\r{self._count} articles, {rate:.1f}/s ")
            sys.stderr.flush()
        yield element

    def teardown(self):
        if self._enabled and self._count:
            elapsed = time.monotonic() - self._started
            sys.stderr.write(f"\r{self._count} articles in {elapsed:.1f} s\n")


class ShowProgress(beam.PTransform):
    """Passes elements through; on a terminal, shows how many went by and how fast."""

    def expand(self, items):
        return items | "Count" >> beam.ParDo(_ProgressFn())
