"""The run's configuration: what the stages need, frozen once from the command line."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.args import spacy_model_name
from transforms.dedup import DedupConfig
from transforms.nlp.annotate import DEFAULT_BATCH_SIZE, DEFAULT_NLP_PROCESSES
from transforms.parse.article import ParseLimits

__all__ = ["PipelineConfig", "pipeline_config", "start_nlp_processes"]


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the stages need, frozen once by the CLI; DoFns never read the environment."""

    spacy_model: str
    batch_size: int = DEFAULT_BATCH_SIZE
    nlp_processes: int = DEFAULT_NLP_PROCESSES
    parse_limits: ParseLimits = field(default_factory=ParseLimits)
    dedup: DedupConfig = field(default_factory=DedupConfig)


def pipeline_config(args, *, bounded: bool = False):
    """The frozen configuration of the stages, checked once here; ``bounded`` for a replay of files."""
    return PipelineConfig(spacy_model=spacy_model_name(args), batch_size=args.batch_size,
                          nlp_processes=args.nlp_processes,
                          dedup=DedupConfig(horizon_seconds=args.dedup_horizon_seconds, expire_entries=not bounded))


def start_nlp_processes(args) -> None:
    """With ``--nlp-processes N`` > 1, have the pool's forkserver load the model now, in the background,
    while this process imports Beam and builds the pipeline; the NLP DoFn's processes fork from it."""
    from transforms.nlp.annotate import start_pool

    start_pool(spacy_model_name(args), args.nlp_processes)
