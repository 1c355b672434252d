"""The NLP DoFn over a pool of spaCy processes: same outputs, in order, and a dead process fails loudly."""

from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue
from concurrent.futures.process import BrokenProcessPool

from transforms.nlp.transform import AnnotateArticles, _AnnotateBatchFn, _PooledAnnotateBatchFn, default_model_name
from transforms.records import DEAD_LETTERS, Article

pytestmark = pytest.mark.slow


def _article(number: int, text: str) -> Article:
    return Article(id=f"a{number}", text=text, title=None, url=None, published_at="2024-03-01T09:00:00Z",
                   published_at_offset=None, published_at_source="field", ingested_at="2024-03-01T10:00:00Z",
                   ingest_time=1_709_287_200.0, attribution=(), language="en",
                   source={"file": "t.jsonl", "line": number}, ordinal=number)


TEXTS = ["Apple unveiled a phone in Cupertino on Monday.", "Airbus delivered 40 planes to Qantas last week.",
         "The court in Paris fined Google on 3 March 2024.", "Boeing said on Tuesday it would cut 100 jobs."]


@pytest.fixture
def pooled():
    fn = _PooledAnnotateBatchFn(default_model_name(), batch_size=2, processes=2, max_tokens=8)
    fn.setup()
    yield fn
    fn.teardown()


def _outputs(fn, batches):
    fn.start_bundle()
    out = []
    for number, batch in enumerate(batches):
        out.extend(fn.process(batch, timestamp=Timestamp(number), window=beam.transforms.window.GlobalWindow()))
    out.extend(fn.finish_bundle())
    return out


def test_the_pool_emits_what_the_in_process_dofn_emits_in_batch_order_with_each_batch_timestamp(pooled):
    articles = [_article(n, text) for n, text in enumerate(TEXTS)]
    batches = [articles[:2], articles[2:]]
    outputs = _outputs(pooled, batches)

    in_process = _AnnotateBatchFn(default_model_name(), batch_size=2, max_tokens=8)
    in_process.setup()
    expected = [item for batch in batches for item in in_process.process(batch)]

    def unwrap(item):
        return (item.tag, item.value.value) if isinstance(item, beam.pvalue.TaggedOutput) else (None, item.value)

    def plain(item):
        return (item.tag, item.value) if isinstance(item, beam.pvalue.TaggedOutput) else (None, item)

    assert [unwrap(o) for o in outputs] == [plain(e) for e in expected]
    # The texts over 8 tokens are dead letters in both; the others are (Article, Enrichment) pairs.
    assert any(tag == DEAD_LETTERS for tag, _ in map(unwrap, outputs))
    stamps = [(o.value if isinstance(o, beam.pvalue.TaggedOutput) else o).timestamp for o in outputs]
    assert stamps == sorted(stamps) and set(stamps) == {Timestamp(0), Timestamp(1)}
    assert all(isinstance(o.value if isinstance(o, beam.pvalue.TaggedOutput) else o, WindowedValue) for o in outputs)


def test_a_pool_process_that_dies_fails_the_bundle_and_the_next_bundle_gets_a_new_pool(pooled):
    pooled.start_bundle()
    pooled._pending.append((pooled._pool.submit(os._exit, 3), Timestamp(0), beam.transforms.window.GlobalWindow()))
    with pytest.raises(BrokenProcessPool):
        list(pooled.finish_bundle())
    assert pooled._pool is None
    outputs = _outputs(pooled, [[_article(0, "Apple sold phones on Monday.")]])
    assert len(outputs) == 1 and outputs[0].value[0].id == "a0"


def test_a_pool_needs_two_processes_and_the_transform_at_least_one():
    with pytest.raises(ValueError):
        _PooledAnnotateBatchFn(default_model_name(), batch_size=2, processes=1)
    with pytest.raises(ValueError):
        AnnotateArticles(default_model_name(), processes=0)


_PROBE = """
import sys
from transforms.nlp import annotate
model = sys.argv[1]
annotate.start_pool(annotate.default_model_name(), 2)
__import__("threading").Thread(target=__import__("time").sleep, args=(5,), daemon=True).start()  # as in a pipeline
probe = ("(lambda a: (a._POOL_WORK[0] is (a._PRELOADED or (None, None))[1], __import__('gc').get_freeze_count() > 0))"
         "(__import__('transforms.nlp.annotate').nlp.annotate)")
pool = annotate.take_pool(model, 8, 2)
print(pool.submit(eval, probe).result())
pool.shutdown()
"""


@pytest.mark.parametrize("same_model", [True, False])
def test_pool_processes_share_the_model_the_forkserver_loaded_else_load_their_own(same_model):
    import subprocess
    import sys
    from pathlib import Path

    import spacy

    name = default_model_name()
    # Not the same model name: the model's own directory, so the processes must load it themselves.
    model = name if same_model else str(next(spacy.util.get_package_path(name).glob("*/config.cfg")).parent)
    done = subprocess.run([sys.executable, "-c", _PROBE, model], cwd=Path(__file__).resolve().parents[3],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    shared, frozen = eval(done.stdout.strip())
    assert shared is same_model
    assert frozen  # the model is kept out of the cyclic GC in either case
