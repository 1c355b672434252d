"""NLP stage: spaCy over batches of articles, then the extractors (entities, timexes, events) on each Doc.

The work itself is ``transforms.nlp.annotate.annotate_batch`` (no Beam there); these are its DoFns.
"""

from __future__ import annotations

import logging
from typing import Sequence

import apache_beam as beam

from transforms.nlp.annotate import (DEFAULT_BATCH_SIZE, DEFAULT_MAX_TOKENS, DEFAULT_NLP_PROCESSES, annotate_batch,
                                 annotate_docs, annotate_in_pool, default_model_name, extract_entities, load_model,
                                 publication_anchor, take_pool)
from transforms.records import DEAD_LETTERS, Article

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_NLP_PROCESSES",
    "DEFAULT_MAX_TOKENS",
    "default_model_name",
    "load_model",
    "extract_entities",
    "publication_anchor",
    "annotate_docs",
    "AnnotateArticles",
]

_LOGGER = logging.getLogger(__name__)


class _AnnotateBatchFn(beam.DoFn):
    """Loads the spaCy model once per worker (setup) and annotates each batch of articles in this process."""

    def __init__(self, model_name: str, batch_size: int, max_tokens: int = DEFAULT_MAX_TOKENS):
        self._model_name = model_name
        self._batch_size = batch_size
        self._max_tokens = max_tokens
        self._nlp = None

    def setup(self):
        self._nlp = load_model(self._model_name)

    def process(self, batch: Sequence[Article]):
        for tag, value in annotate_batch(self._nlp, batch, self._batch_size, self._max_tokens):
            yield beam.pvalue.TaggedOutput(tag, value) if tag else value


# -- the NLP DoFn over a pool of spaCy processes ----------------------------------------------------

class _PooledAnnotateBatchFn(beam.DoFn):
    """``_AnnotateBatchFn`` run in N long-lived spaCy processes, so that NLP uses more than one core.

    Beam's own parallelism does not help here: the FnApiRunner runs a replay's one fused stage on one
    worker whatever ``--direct_num_workers`` says, and multi_processing moves every dedup state access
    onto gRPC (BENCHMARKS.md, Performance). spaCy's ``n_process`` starts new processes, and loads the
    model again, on every ``nlp.pipe`` call. Here the processes live as long as the DoFn, forked by
    multiprocessing's forkserver (``annotate.take_pool``): with the CLI's ``annotate.start_pool`` it
    has loaded the model while Beam started, and all the processes share that one copy. They run the
    same ``annotate_batch`` as ``_AnnotateBatchFn``: token limit, ``memory_zone``, extractors and the
    one-by-one retry into dead letters are the same code.

    Batches are submitted as they come and results are emitted in submission order with the
    timestamp and window of their batch; at most two batches per process are in flight, and
    ``finish_bundle`` waits for the rest, so a bundle never ends with work outstanding (the Kafka
    commit order holds). A pool process that dies fails the bundle (its offsets stay uncommitted) and
    the pool is started again for the next one.
    """

    def __init__(self, model_name: str, batch_size: int, processes: int, max_tokens: int = DEFAULT_MAX_TOKENS):
        if processes < 2:
            raise ValueError(f"a pool needs at least 2 processes, got {processes}")
        self._model_name = model_name
        self._batch_size = batch_size
        self._processes = processes
        self._max_tokens = max_tokens
        self._pool = None
        self._pending = None

    def setup(self):
        self._pool = take_pool(self._model_name, self._batch_size, self._processes, self._max_tokens)

    def start_bundle(self):
        import collections

        if self._pool is None:
            self.setup()
        self._pending = collections.deque()

    def process(self, batch: Sequence[Article], timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        self._pending.append((self._submit(list(batch)), timestamp, window))
        yield from self._drain(in_flight=2 * self._processes)

    def finish_bundle(self):
        yield from self._drain(in_flight=0)

    def teardown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _submit(self, batch: list[Article]):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self._pool.submit(annotate_in_pool, batch)
        except BrokenProcessPool:
            self._restart()
            raise

    def _drain(self, in_flight: int):
        from concurrent.futures.process import BrokenProcessPool
        from apache_beam.utils.windowed_value import WindowedValue

        while self._pending and (len(self._pending) > in_flight or self._pending[0][0].done()):
            future, timestamp, window = self._pending.popleft()
            try:
                outputs = future.result()
            except BrokenProcessPool:
                self._restart()
                raise
            for tag, value in outputs:
                windowed = WindowedValue(value, timestamp, (window,))
                yield beam.pvalue.TaggedOutput(tag, windowed) if tag else windowed

    def _restart(self) -> None:
        _LOGGER.error("an NLP pool process died; the bundle fails and the pool starts again")
        self.teardown()
        self._pending.clear()


class AnnotateArticles(beam.PTransform):
    """Article -> (Article, Enrichment): spaCy over batches, then entities, timexes and events per Doc.

    The extractors run in the same DoFn as spaCy so that Docs never cross a Beam boundary
    (a Doc does not serialize cheaply); each extractor lives in its own module. ``processes`` > 1
    runs that DoFn's work in a pool of spaCy processes (``--nlp-processes``).
    """

    def __init__(self, model_name: str, batch_size: int = DEFAULT_BATCH_SIZE, processes: int = DEFAULT_NLP_PROCESSES):
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if processes < 1:
            raise ValueError("at least one NLP process is needed")
        self._model_name = model_name
        self._batch_size = batch_size
        self._processes = processes

    def expand(self, articles):
        annotate = (_AnnotateBatchFn(self._model_name, self._batch_size) if self._processes == 1
                    else _PooledAnnotateBatchFn(self._model_name, self._batch_size, self._processes))
        return (
            articles
            # A fixed size: BatchElements' adaptive estimator fits a regression in every bundle's
            # start and finish (0.24 ms against 0.05 ms fixed), which added up to 15% of a replay's
            # end-of-input timer phase; spaCy wants full batches anyway, and a bundle still flushes
            # its partial batch when it ends (BENCHMARKS.md, Performance).
            | "Batch" >> beam.BatchElements(min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "RunSpacy" >> beam.ParDo(annotate).with_outputs(DEAD_LETTERS, main="annotated")
        )
