"""Beam options as the CLI builds them, and what they set in the in-process runner."""

from __future__ import annotations

import types

import apache_beam as beam
from apache_beam.io.unbounded_source import ReadFromUnboundedSource, UnboundedCountingSource
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from pipeline.options import beam_options


class _Count(beam.DoFn):
    def __init__(self):
        self._seen = Metrics.counter("test", "seen")

    def process(self, element):
        self._seen.inc()


def test_the_runner_keeps_one_merged_list_of_metrics_per_stage_not_every_bundles(monkeypatch):
    # 2,000 elements in bundles of 10: 200 bundles of the source's stage. Beam 2.77 alone keeps a
    # generator per bundle, each wrapping the one before (and all their monitoring infos).
    root = beam.Pipeline(options=beam_options([]))
    _ = (root | ReadFromUnboundedSource(UnboundedCountingSource(2000), poll_interval=0, max_records_per_bundle=10)
         | beam.ParDo(_Count()))
    result = root.run()
    result.wait_until_finish()
    stages = result._monitoring_infos_by_stage  # pylint: disable=protected-access
    assert stages and not any(isinstance(infos, types.GeneratorType) for infos in stages.values())
    counters = result.metrics().query(MetricsFilter().with_namespace("test"))["counters"]
    assert sum(c.committed for c in counters) == 2000  # merging still adds every bundle's counts up
