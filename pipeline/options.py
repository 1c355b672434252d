"""Beam pipeline options: pass Beam's own flags through, reject anything unknown, choose the local runner."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import PipelineOptions

__all__ = ["DEFAULT_RUNNER", "UsageError", "RaisingParser", "beam_options", "positive_int", "positive_float", "port_number"]

# Beam 2.77's "DirectRunner" first tries to download the Prism runner from the internet and only
# falls back to the in-process FnApiRunner when that fails. We name the FnApiRunner ourselves so that
# nothing depends on that download; users may still pass --runner (PrismRunner, FlinkRunner, ...).
DEFAULT_RUNNER = "FnApiRunner"


class UsageError(Exception):
    """A bad command line: shown as one line, exit status 2."""


class RaisingParser(argparse.ArgumentParser):
    """Errors as UsageError (one line, status 2), and no prefix matching of option names: ``--out`` must not
    silently become ``--output-topic``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)


def beam_options(beam_args: list[str], *, streaming: bool = False) -> PipelineOptions:
    """Validate Beam's own flags (Beam itself only warns on unknown ones) and build the options."""
    # Imported here, not with the module: the CLI parses its arguments and starts the NLP pool's
    # forkserver before Beam's import (half a second) begins.
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    parser = RaisingParser(allow_abbrev=False, add_help=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    _, unknown = parser.parse_known_args(beam_args)
    if unknown:
        raise UsageError(f"unrecognized arguments: {' '.join(unknown)}")
    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_RUNNER
    _check_runner(standard.runner)
    _size_in_process_state_cache(options)
    consolidate_runner_metrics_eagerly()
    if streaming:
        standard.streaming = True
    return options


def _check_runner(name) -> None:
    """A usage error for a runner Beam does not know (Beam itself raises only when the pipeline runs)."""
    from apache_beam.runners.runner import create_runner

    if isinstance(name, str):
        try:
            create_runner(name)
        except (ValueError, ImportError) as err:
            known = "FnApiRunner, PrismRunner, FlinkRunner, PortableRunner, ... or a PipelineRunner class path"
            raise UsageError(f"unknown runner {name!r} ({type(err).__name__}); known: {known}") from None


def _size_in_process_state_cache(options: PipelineOptions) -> None:
    # The in-process FnApiRunner sizes its state cache from worker_handlers.STATE_CACHE_SIZE_MB (100 MB),
    # not from --max_cache_memory_usage_mb, and every cached state access then measures the value with
    # objsize, which walks the globals of every loaded module (~1 ms with spaCy loaded; dedup makes ~50
    # state accesses per article: docs/dedup.md, BENCHMARKS.md "Performance"). Give it the flag's value,
    # whose Beam default is 0 (no cache), as subprocess workers already get.
    from apache_beam.options.pipeline_options import WorkerOptions
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.STATE_CACHE_SIZE_MB = options.view_as(WorkerOptions).max_cache_memory_usage_mb or 0


def consolidate_runner_metrics_eagerly() -> None:
    """Keep the in-process FnApiRunner's metrics from holding on to every bundle's.

    After each bundle, Beam 2.77's ``FnApiRunner.run_stages`` stores
    ``consolidate(chain(this bundle's monitoring infos, the stage's previous value))``; ``consolidate``
    is a generator, so each bundle wraps the one before and every bundle's monitoring infos stay
    referenced until the pipeline ends: about 0.27 MB per bundle in the Kafka job, without bound in a
    job that never ends (BENCHMARKS.md, Reliability). Evaluated at once, the value is one merged list
    per stage, as the runner intends. Idempotent.
    """
    from apache_beam.metrics import monitoring_infos
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    if getattr(fn_runner.consolidate_monitoring_infos, "eager", False):
        return

    def consolidate_now(metrics, key=monitoring_infos.to_key):
        return list(monitoring_infos.consolidate(metrics, key))

    consolidate_now.eager = True
    fn_runner.consolidate_monitoring_infos = consolidate_now


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0 meaning any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {text}")
    return value
