"""Prototype, measured by bench/throughput.py: the NLP DoFn with a persistent pool of spaCy processes.

Superseded by ``news-ingest replay|run --nlp-processes N`` (transforms/nlp/annotate.py, transforms/nlp/transform.py);
kept only so that the tables in BENCHMARKS.md that name ``pool:2`` can be reproduced.

    python bench/profile_nlp_pool.py --nlp-processes 2 replay CORPUS.jsonl --out OUT.jsonl [replay options]
    python bench/throughput.py --replay-cmd "python bench/profile_nlp_pool.py --nlp-processes 2"

Runs ``news-ingest`` (pipeline/cli.py, unchanged) with ``transforms.nlp._AnnotateBatchFn`` replaced by
``PooledAnnotateBatchFn``: the in-process runner keeps parse, dedup (with its many state accesses, which
stay in-process) and the sinks in the main process, and each batch of articles goes to one of N
long-lived worker processes (spawned once in ``setup``, model loaded once each) that runs the
*unchanged* ``_AnnotateBatchFn`` on it (token limit, ``memory_zone``, spaCy, entities, timexes, events,
one-by-one retry into dead letters). Batches are submitted asynchronously: ``process`` returns at once
and yields the results of batches that are done, in submission order; ``finish_bundle`` waits for the
rest, so a bundle never ends with work outstanding (the Kafka commit order is kept). Outputs carry the
timestamp and window of the batch they came from.

Why: the FnApiRunner's own parallelism (``--direct_running_mode multi_processing``) moves every state
access of dedup onto gRPC and every element between stages through coders; spaCy's ``n_process``
starts new processes (and loads the model again) on every ``nlp.pipe`` call, i.e. per batch.
"""

from __future__ import annotations

import collections
import multiprocessing
import sys
from pathlib import Path

import apache_beam as beam
from apache_beam.utils.windowed_value import WindowedValue

_WORKER_FN = None


def _worker_init(model_name: str, batch_size: int, max_tokens: int | None) -> None:
    global _WORKER_FN
    from transforms.nlp import transform as nlp

    cls = getattr(nlp, "_OriginalAnnotateBatchFn", nlp._AnnotateBatchFn)
    _WORKER_FN = cls(model_name, batch_size) if max_tokens is None else cls(model_name, batch_size, max_tokens)
    _WORKER_FN.setup()


def _worker_annotate(batch):
    out = []
    for item in _WORKER_FN.process(batch):
        if isinstance(item, beam.pvalue.TaggedOutput):
            out.append((item.tag, item.value))
        else:
            out.append((None, item))
    return out


class PooledAnnotateBatchFn(beam.DoFn):
    """Same inputs and outputs as transforms.nlp._AnnotateBatchFn; the work runs in a process pool."""

    processes = 2  # set by main() before the graph is built

    def __init__(self, model_name: str, batch_size: int, max_tokens: int | None = None):
        self._model_name = model_name
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._processes = type(self).processes
        self._pool = None
        self._pending = None

    def setup(self):
        context = multiprocessing.get_context("spawn")  # no fork after Beam's gRPC threads exist
        self._pool = context.Pool(self._processes, initializer=_worker_init,
                                  initargs=(self._model_name, self._batch_size, self._max_tokens))

    def start_bundle(self):
        self._pending = collections.deque()

    def process(self, batch, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        self._pending.append((self._pool.apply_async(_worker_annotate, (list(batch),)), timestamp, window))
        # Keep at most two batches per process in flight; emit whatever is done, in order.
        yield from self._drain(limit=2 * self._processes)

    def finish_bundle(self):
        yield from self._drain(limit=0)

    def _drain(self, limit: int):
        while self._pending and (len(self._pending) > limit or self._pending[0][0].ready()):
            result, timestamp, window = self._pending.popleft()
            for tag, value in result.get():
                windowed = WindowedValue(value, timestamp, (window,))
                yield beam.pvalue.TaggedOutput(tag, windowed) if tag else windowed

    def teardown(self):
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    processes = 2
    if argv[:1] == ["--nlp-processes"]:
        processes = int(argv[1])
        argv = argv[2:]
    from pipeline import cli
    from transforms.nlp import transform as nlp

    PooledAnnotateBatchFn.processes = processes
    nlp._OriginalAnnotateBatchFn = nlp._AnnotateBatchFn
    nlp._AnnotateBatchFn = PooledAnnotateBatchFn
    return cli.main(argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import profile_nlp_pool  # the classes by their importable name, so spawned workers find them

    sys.exit(profile_nlp_pool.main())
