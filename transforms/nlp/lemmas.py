"""Lemmas on demand. The extractors read the lemmas of a few tokens (triggers, their heads, modals),
so the model's rule or lookup lemmatizer is taken out of ``nlp.pipe``, where it would lemmatize every
token (4% of spaCy's time on news, BENCHMARKS.md, Performance), and ``lemma`` asks it for one token
when an extractor needs it: the same lemma the component would have set, since it reads only what
the components before it (tagger, attribute_ruler) have set. Models without such a lemmatizer (a
trainable one, or none) keep theirs in the pipe, and ``lemma`` reads ``token.lemma_``.
"""

from __future__ import annotations

__all__ = ["defer_lemmatizer", "lemma"]

_LEMMATIZER = "news_ingest.lemmatizer"  # the key in Doc.user_data
_COMPONENT = "lemmas_on_demand"


def defer_lemmatizer(nlp) -> None:
    """Take the model's rule or lookup lemmatizer out of the pipeline's work (it stays loaded,
    disabled), and add a component that hands it to every Doc, for ``lemma``."""
    from spacy.language import Language
    from spacy.pipeline import Lemmatizer

    # spaCy's trainable lemmatizer (EditTreeLemmatizer) is not a Lemmatizer: it predicts in batches.
    if "lemmatizer" not in nlp.pipe_names or not isinstance(nlp.get_pipe("lemmatizer"), Lemmatizer):
        return
    if not Language.has_factory(_COMPONENT):
        Language.factory(_COMPONENT, func=_LemmasOnDemand)
    nlp.disable_pipe("lemmatizer")
    nlp.add_pipe(_COMPONENT, last=True)


def lemma(token) -> str:
    """``token.lemma_`` as the model's lemmatizer sets it in the pipe: a lemma already set (by the
    attribute_ruler's exceptions) is kept unless the lemmatizer overwrites."""
    lemmatizer = token.doc.user_data.get(_LEMMATIZER)
    if lemmatizer is None or (token.lemma and not lemmatizer.overwrite):
        return token.lemma_
    return lemmatizer.lemmatize(token)[0]


class _LemmasOnDemand:
    def __init__(self, nlp, name: str):
        self._lemmatizer = nlp.get_pipe("lemmatizer")

    def __call__(self, doc):
        doc.user_data[_LEMMATIZER] = self._lemmatizer
        return doc
