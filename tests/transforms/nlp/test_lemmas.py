"""Lemmas on demand: the same lemmas, and the same enrichment, as with the lemmatizer in the pipe."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import spacy

from transforms.nlp.annotate import annotate_batch, default_model_name, load_model
from transforms.files import find_article_files, read_article_file
from transforms.nlp.lemmas import lemma
from transforms.parse.article import parse_message

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
TEXT = ("The ministers were meeting in Paris on Monday and said they had agreed to cut emissions; "
        "talks will resume after the votes are counted, officials' spokesmen told reporters.")


@pytest.fixture(scope="module")
def models():
    return load_model(default_model_name()), spacy.load(default_model_name())


def test_the_lemmatizer_leaves_the_pipe_and_every_lemma_is_the_one_it_would_set(models):
    deferred, whole = models
    assert "lemmatizer" in deferred.disabled and "lemmatizer" in whole.pipe_names
    on_demand = [lemma(token) for token in deferred(TEXT)]
    in_pipe = [token.lemma_ for token in whole(TEXT)]
    assert on_demand == in_pipe
    assert {"minister", "be", "meet", "say", "have", "agree", "count", "spokesman"} <= set(on_demand)


def test_a_model_without_a_rule_lemmatizer_keeps_its_own_lemmas():
    nlp = spacy.blank("en")
    doc = nlp("They were here")
    doc[1].lemma_ = "be"
    assert [lemma(token) for token in doc] == ["", "be", ""]


@pytest.mark.slow
def test_every_seed_gets_the_same_enrichment_either_way(models):
    deferred, whole = models
    articles = [parse_message(message) for file in find_article_files([str(SEEDS)])
                for message in read_article_file(file, time.time())]
    assert len(articles) > 50
    assert annotate_batch(deferred, articles, 16) == annotate_batch(whole, articles, 16)
