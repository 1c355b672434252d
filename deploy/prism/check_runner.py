"""Check a Beam runner offline with three small pipelines and print what was seen, as JSON.

    python deploy/prism/check_runner.py --runner PrismRunner --prism_location "$(bash deploy/prism/build-prism.sh)"
    python deploy/prism/check_runner.py --runner FnApiRunner

1. ``trivial``: Create -> Map -> assert, 1,000 elements.
2. ``stateful``: a keyed DoFn with ReadModifyWriteState counting per key (3 keys x 1,000 elements).
3. ``unbounded``: Beam's ``UnboundedCountingSource`` (N records, 10,000 per bundle) -> key -> stateful
   DoFn -> a sink DoFn that "flushes" in ``finish_bundle``; the source's ``finalize_checkpoint`` (where a
   Kafka source commits offsets) and each sink flush are logged with a monotonic time, so the output
   says whether the sink had flushed the records a checkpoint covers before that checkpoint was
   finalized (``sink_first``), which is what at-least-once needs.

Options after the script name are Beam options. Exits 1 when a check fails. No network is used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.io import unbounded_source
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

__all__ = ["main"]

_EVENTS_ENV = "CHECK_RUNNER_EVENTS"


def _note(text: str) -> None:
    # Workers may be other processes: append to a file named in the environment, one line per event.
    with open(os.environ[_EVENTS_ENV], "a", encoding="utf-8") as handle:
        handle.write(f"{time.monotonic():.6f} {text}\n")


class _Mark(unbounded_source._CountingCheckpointMark):  # pylint: disable=protected-access
    def finalize_checkpoint(self):
        _note(f"finalize {self.last_index}")


class _Reader(unbounded_source._CountingReader):  # pylint: disable=protected-access
    def get_checkpoint_mark(self):
        last = self._current if self._current is not None else self._next - 1
        return _Mark(last)


class _Source(unbounded_source.UnboundedCountingSource):
    def create_reader(self, options, checkpoint_mark):
        start = 0 if checkpoint_mark is None else checkpoint_mark.last_index + 1
        return _Reader(self._count, start)


class _CountPerKeyFn(beam.DoFn):
    COUNT = ReadModifyWriteStateSpec("count", VarIntCoder())

    def process(self, element, count=beam.DoFn.StateParam(COUNT)):
        key, value = element
        seen = (count.read() or 0) + 1
        count.write(seen)
        yield key, value, seen


class _SinkFn(beam.DoFn):
    def start_bundle(self):
        self._max = -1

    def process(self, element):
        self._max = max(self._max, element[1])

    def finish_bundle(self):
        if self._max >= 0:
            _note(f"flush {self._max}")


def _timed(name, args, build, results):
    started = time.monotonic()
    try:
        with beam.Pipeline(options=PipelineOptions(args)) as root:
            build(root)
    except Exception as err:  # report and go on to the next check
        results[name] = {"ok": False, "error": f"{type(err).__name__}: {str(err)[:500]}"}
        return
    results[name] = {"ok": True, "seconds": round(time.monotonic() - started, 3)}


def _trivial(root):
    out = root | beam.Create(range(1000)) | beam.Map(lambda x: x * 2)
    assert_that(out, equal_to([x * 2 for x in range(1000)]))


def _stateful(root):
    counts = (root | beam.Create([(k, i) for k in "abc" for i in range(1000)])
              | beam.ParDo(_CountPerKeyFn()) | beam.Map(lambda kvs: (kvs[0], kvs[2])))
    finals = counts | beam.CombinePerKey(max)
    assert_that(finals, equal_to([("a", 1000), ("b", 1000), ("c", 1000)]))


def _order(events):
    """Per finalized checkpoint: was every record up to it flushed by the sink before?"""
    flushed_up_to, verdicts = -1, []
    for _, kind, index in events:
        if kind == "flush":
            flushed_up_to = max(flushed_up_to, index)
        else:
            verdicts.append(flushed_up_to >= index)
    return verdicts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=35_000, help="records through the unbounded source")
    args, beam_args = parser.parse_known_args(argv)
    results: dict = {"beam_args": beam_args}
    _timed("trivial", beam_args, _trivial, results)
    _timed("stateful", beam_args, _stateful, results)

    with tempfile.NamedTemporaryFile(prefix="check-runner-", suffix=".log", delete=False) as handle:
        events_path = handle.name
    os.environ[_EVENTS_ENV] = events_path
    records = args.records
    _timed("unbounded", beam_args, lambda root: (
        root | beam.io.Read(_Source(records)) | beam.Map(lambda i: (str(i % 7), i))
        | beam.ParDo(_CountPerKeyFn()) | beam.ParDo(_SinkFn())), results)
    with open(events_path, encoding="utf-8") as handle:
        events = sorted((float(t), kind, int(index)) for t, kind, index in (line.split() for line in handle))
    os.unlink(events_path)
    verdicts = _order(events)
    results["unbounded"].update({
        "finalizations": len(verdicts),
        "sink_flushes": sum(1 for _, kind, _ in events if kind == "flush"),
        "sink_first": sum(verdicts),
        "finalized_before_sink": len(verdicts) - sum(verdicts),
    })
    print(json.dumps(results, indent=2))
    return 0 if all(results[name]["ok"] for name in ("trivial", "stateful", "unbounded")) else 1


if __name__ == "__main__":
    sys.exit(main())
